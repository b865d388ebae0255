"""The daily submission quota and the in-flight cap: charge, refund, count.

Charged at upload (`reserve_quota`, atomic on both databases); refunded when a submission
is cancelled before its runs start or fails for a reason of ours (`refund_quota`).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from competition.models import TERMINAL_STATUSES, QuotaCounter, Result, Submission

__all__ = ["in_flight", "quota_used", "refund_quota", "reserve_quota"]


def reserve_quota(session: Session, *, team_id: int, phase_id: int, day: date, limit: int) -> bool:
    """Charge one submission to (team, phase, day) if below `limit`; atomic on both databases.

    The counter row is created idempotently, then one guarded UPDATE increments it only while
    `used < limit`: concurrent uploads serialise on the row lock and the loser sees rowcount 0.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(QuotaCounter)
        .values(team_id=team_id, phase_id=phase_id, day=day, used=0)
        .on_conflict_do_nothing()
    )
    result = session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.team_id == team_id,
            QuotaCounter.phase_id == phase_id,
            QuotaCounter.day == day,
            QuotaCounter.used < limit,
        )
        .values(used=QuotaCounter.used + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def refund_quota(session: Session, submission: Submission) -> None:
    if not submission.counts_against_quota:
        return
    session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.team_id == submission.team_id,
            QuotaCounter.phase_id == submission.phase_id,
            QuotaCounter.day == submission.quota_day,
            QuotaCounter.used > 0,
        )
        .values(used=QuotaCounter.used - 1)
    )
    submission.counts_against_quota = False


def in_flight(session: Session, team_id: int, phase_id: int) -> int:
    """The team's submissions still in their public stage. One whose public result is stored
    is finished as far as the team can see, so its private stage does not count: the cap
    would otherwise tell the team when its private runs end."""
    public_done = (
        select(Result.id)
        .where(
            Result.submission_id == Submission.id,
            Result.attempt == Submission.attempt,
            Result.split == "public",
        )
        .exists()
    )
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.team_id == team_id,
                Submission.phase_id == phase_id,
                Submission.status.not_in(TERMINAL_STATUSES),
                ~public_done,
            )
        )
        or 0
    )


def quota_used(session: Session, *, team_id: int, phase_id: int, day: date) -> int:
    used = session.scalar(
        select(QuotaCounter.used).where(
            QuotaCounter.team_id == team_id,
            QuotaCounter.phase_id == phase_id,
            QuotaCounter.day == day,
        )
    )
    return used or 0
