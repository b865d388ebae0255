"""Frozen private leaderboards: stored once when a phase ends, refrozen only by organizers.

    private_board(session, phase, now)   live before the end (organizers only reach it);
                                         from the end on, the newest snapshot, made on the
                                         first read after `ends_at` (version 1)
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

logger = logging.getLogger(__name__)

__all__ = ["private_board", "refreeze", "snapshot_history"]

SPLIT: Literal["private"] = "private"


def _newest(session: Session, phase: Phase) -> LeaderboardSnapshot | None:
    return session.scalar(
        select(LeaderboardSnapshot)
        .where(LeaderboardSnapshot.phase_id == phase.id, LeaderboardSnapshot.split == SPLIT)
        .order_by(LeaderboardSnapshot.version.desc())
        .limit(1)
    )


def _as_board(snapshot: LeaderboardSnapshot) -> Leaderboard:
    board = Leaderboard.model_validate(snapshot.board)
    return board.model_copy(
        update={"frozen_at": snapshot.created_at, "snapshot_version": snapshot.version}
    )


def _store(
    session: Session, phase: Phase, *, version: int, user: User | None, reason: str
) -> LeaderboardSnapshot:
    board = compute_leaderboard(session, phase, SPLIT)
    snapshot = LeaderboardSnapshot(
        phase_id=phase.id,
        split=SPLIT,
        version=version,
        board=board.model_dump(mode="json"),
        created_by=user.id if user else None,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(snapshot)
    session.commit()
    return snapshot


def private_board(session: Session, phase: Phase, now: datetime) -> Leaderboard:
    """The private board as it stands (before the end) or as it was frozen (after)."""
    if not phase.has_ended(now):
        return compute_leaderboard(session, phase, SPLIT)
    snapshot = _newest(session, phase)
    if snapshot is None:
        try:
            snapshot = _store(
                session, phase, version=1, user=None, reason="frozen at the end of the phase"
            )
            logger.info("private leaderboard of phase %d frozen", phase.id)
        except IntegrityError:  # another request froze it first: read theirs
            session.rollback()
            snapshot = _newest(session, phase)
            assert snapshot is not None
    return _as_board(snapshot)


def refreeze(session: Session, phase: Phase, *, organizer: User, reason: str) -> Leaderboard:
    """A new version of the frozen board from the current scores (after a rescore, a
    disqualification); the previous versions stay in the history."""
    if not phase.has_ended(utcnow()):
        raise Conflict("the private board is frozen when the phase ends; it is live until then")
    private_board(session, phase, utcnow())  # version 1 exists before any refreeze
    latest = session.scalar(
        select(func.max(LeaderboardSnapshot.version)).where(
            LeaderboardSnapshot.phase_id == phase.id, LeaderboardSnapshot.split == SPLIT
        )
    )
    try:
        snapshot = _store(session, phase, version=(latest or 0) + 1, user=organizer, reason=reason)
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
