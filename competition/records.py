"""Loading rows the server and the workers both read: a phase, a submission, under lock.

`lock_submission` is how every status change starts: it holds the submission's row lock
until commit, so two writers racing on one submission cannot both move it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from competition.errors import Conflict, NotFound
from competition.models import Phase, Submission

__all__ = ["commit_or_conflict", "get_phase", "get_submission", "lock_submission"]


def get_phase(session: Session, phase_id: int) -> Phase:
    phase = session.get(Phase, phase_id)
    if phase is None:
        raise NotFound(f"phase {phase_id} not found")
    return phase


def get_submission(session: Session, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"submission {submission_id} not found")
    return submission


def lock_submission(session: Session, submission_id: int) -> Submission:
    """Load a submission holding its row lock until commit, on PostgreSQL and SQLite alike.

    A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite (where
    `SELECT ... FOR UPDATE` does not exist); the reload then sees the committed state.
    """
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(updated_at=Submission.updated_at)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        raise NotFound(f"submission {submission_id} not found")
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .execution_options(populate_existing=True)
    )
    assert submission is not None
    return submission


def commit_or_conflict(session: Session, conflict_message: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict_message) from None
