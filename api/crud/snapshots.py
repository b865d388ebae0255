"""Frozen private leaderboards: stored once when a phase ends, refrozen only by organizers.

    private_board(session, phase, now)   live before the end (organizers only reach it);
                                         from the end on, the newest snapshot (version 1:
                                         the board as of `ends_at`, stored by the worker's
                                         scheduled freeze, `competition.snapshots`)
    refreeze(session, phase, ...)        an organizer's new version from today's scores,
                                         with the reason; earlier versions stay
    snapshot_history(session, phase)     every version, oldest first

So a rescore or a late result after the end changes no one's rank until an organizer
refreezes the board, and every change of a final ranking is on record.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.leaderboard import compute_leaderboard
from api.schemas import Leaderboard
from competition.errors import Conflict
from competition.models import LeaderboardSnapshot, Phase, User, utcnow
from competition.snapshots import freeze_board, freeze_ended, newest_snapshot

logger = logging.getLogger(__name__)

__all__ = ["private_board", "refreeze", "snapshot_history"]

SPLIT: Literal["private"] = "private"


def _as_board(snapshot: LeaderboardSnapshot) -> Leaderboard:
    board = Leaderboard.model_validate(snapshot.board)
    return board.model_copy(
        update={"frozen_at": snapshot.created_at, "snapshot_version": snapshot.version}
    )


def private_board(session: Session, phase: Phase, now: datetime) -> Leaderboard:
    """The private board as it stands (before the end) or as it was frozen (after). Between
    the end and the scheduled freeze, the board as of the end: the same content the freeze
    stores, computed and not stored (no reader freezes it)."""
    if not phase.has_ended(now):
        return compute_leaderboard(session, phase, SPLIT)
    snapshot = newest_snapshot(session, phase)
    if snapshot is None:
        return compute_leaderboard(session, phase, SPLIT, as_of=phase.ends_at)
    return _as_board(snapshot)


def refreeze(session: Session, phase: Phase, *, organizer: User, reason: str) -> Leaderboard:
    """A new version of the frozen board from the current scores (after a rescore, a
    disqualification); the previous versions stay in the history."""
    if not phase.has_ended(utcnow()):
        raise Conflict("the private board is frozen when the phase ends; it is live until then")
    freeze_ended(session)  # version 1 (as of the end) exists before any refreeze
    latest = session.scalar(
        select(func.max(LeaderboardSnapshot.version)).where(
            LeaderboardSnapshot.phase_id == phase.id, LeaderboardSnapshot.split == SPLIT
        )
    )
    try:
        snapshot = freeze_board(
            session, phase, version=(latest or 0) + 1, user_id=organizer.id, reason=reason
        )
    except IntegrityError:
        session.rollback()
        raise Conflict("another organizer refroze this board at the same moment; retry") from None
    logger.info(
        "private leaderboard of phase %d refrozen as version %d by user %d",
        phase.id,
        snapshot.version,
        organizer.id,
    )
    return _as_board(snapshot)


def snapshot_history(session: Session, phase: Phase) -> list[LeaderboardSnapshot]:
    return list(
        session.scalars(
            select(LeaderboardSnapshot)
            .where(LeaderboardSnapshot.phase_id == phase.id, LeaderboardSnapshot.split == SPLIT)
            .order_by(LeaderboardSnapshot.version)
        )
    )
