"""Frozen private leaderboards: the board as it stood at `ends_at`, stored by a scheduled task.

    freeze_board(session, phase, version=, user_id=, reason=)  store one version
    freeze_ended(session, now)          version 1 of every ended phase that has none yet
                                        (the worker's beat runs it, `worker.tasks.cleanup`)
    newest_snapshot(session, phase)

A frozen board holds only results stored by `ends_at` (`competition.leaderboard`, `as_of`),
so its content is the same whoever freezes it and however late the task runs, and nothing a
team does after the end (cancel and final picks are refused then) changes it. Later
versions are an organizer's refreeze, with the reason, on today's scores; earlier versions
stay on record.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from competition.leaderboard import leaderboard_dict
from competition.models import LeaderboardSnapshot, Phase, utcnow

logger = logging.getLogger(__name__)

__all__ = ["FROZEN_AT_END", "freeze_board", "freeze_ended", "newest_snapshot"]

FROZEN_AT_END = "frozen at the end of the phase"


def newest_snapshot(session: Session, phase: Phase) -> LeaderboardSnapshot | None:
    return session.scalar(
        select(LeaderboardSnapshot)
        .where(LeaderboardSnapshot.phase_id == phase.id, LeaderboardSnapshot.split == "private")
        .order_by(LeaderboardSnapshot.version.desc())
        .limit(1)
    )


def freeze_board(
    session: Session, phase: Phase, *, version: int, user_id: int | None, reason: str
) -> LeaderboardSnapshot:
    """Store one version of the private board; version 1 is the board as of `ends_at`.
    Raises `IntegrityError` when that version exists (another freeze won)."""
    as_of = phase.ends_at if version == 1 else None
    board = leaderboard_dict(session, phase, "private", as_of=as_of)
    snapshot = LeaderboardSnapshot(
        phase_id=phase.id,
        split="private",
        version=version,
        board={**board, "generated_at": board["generated_at"].isoformat()}
        | {"rows": [{**r, "submitted_at": r["submitted_at"].isoformat()} for r in board["rows"]]},
        created_by=user_id,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(snapshot)
    session.commit()
    return snapshot


def freeze_ended(session: Session, now: datetime | None = None) -> list[int]:
    """Freeze the private board of every phase that ended and has no snapshot yet; returns
    their ids. Safe to run from several places at once (the version is unique)."""
    now = now or utcnow()
    frozen = select(LeaderboardSnapshot.phase_id).where(LeaderboardSnapshot.split == "private")
    due = session.scalars(
        select(Phase).where(Phase.ends_at <= now, Phase.id.not_in(frozen)).order_by(Phase.id)
    ).all()
    done = []
    for phase in due:
        try:
            freeze_board(session, phase, version=1, user_id=None, reason=FROZEN_AT_END)
        except IntegrityError:
            session.rollback()  # frozen by another process in the meantime
            continue
        logger.info("private leaderboard of phase %d frozen as of %s", phase.id, phase.ends_at)
        done.append(phase.id)
    return done
