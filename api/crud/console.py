"""What the organizer's console reads: submissions by status, failures by category, workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from competition.models import (
    TERMINAL_STATUSES,
    FailureCategory,
    Submission,
    SubmissionStatus,
    Worker,
)

__all__ = ["failures_by_category", "list_workers", "still_running", "status_overview"]

S = SubmissionStatus


def status_overview(session: Session) -> list[tuple[SubmissionStatus, int, datetime | None]]:
    rows = session.execute(
        select(Submission.status, func.count(), func.min(Submission.updated_at)).group_by(
            Submission.status
        )
    ).all()
    found = {status: (count, oldest) for status, count, oldest in rows}
    return [(status, *found.get(status, (0, None))) for status in SubmissionStatus]


def failures_by_category(session: Session) -> list[tuple[FailureCategory, int]]:
    rows = session.execute(
        select(Submission.failure_category, func.count())
        .where(Submission.status == S.FAILED, Submission.failure_category.is_not(None))
        .group_by(Submission.failure_category)
        .order_by(func.count().desc())
    ).all()
    return [(category, count) for category, count in rows if category is not None]


def list_workers(session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.last_seen.desc())))


def still_running(session: Session, submission_ids: list[int]) -> set[int]:
    """Those of the submissions not finished, failed or cancelled: a worker's last reported
    job is its current one only while that is so."""
    if not submission_ids:
        return set()
    rows = session.scalars(
        select(Submission.id).where(
            Submission.id.in_(submission_ids), Submission.status.not_in(TERMINAL_STATUSES)
        )
    )
    return set(rows)
