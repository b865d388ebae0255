"""Submissions as teams and organizers change them: upload, list, cancel, final pick, rescore,
disqualify. What the workers change is in `competition.lifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.upload import ValidatedUpload
from competition import preparation
from competition.artifacts import ArtifactStore, submission_code_key
from competition.errors import (
    Conflict,
    PhaseClosed,
    PhaseUnavailable,
    QuotaExceeded,
    TooManyInFlight,
)
from competition.models import (
    NOT_STARTED_STATUSES,
    Phase,
    Result,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
    User,
    transition,
    utcnow,
)
from competition.pipeline_models import PreparationState
from competition.quota import in_flight, refund_quota, reserve_quota
from competition.records import lock_submission

logger = logging.getLogger(__name__)

__all__ = [
    "cancel_submission",
    "create_submission",
    "disqualify",
    "reinstate",
    "list_submissions",
    "rescore",
    "results_for",
    "select_final",
]

S = SubmissionStatus


def create_submission(
    session: Session,
    store: ArtifactStore,
    *,
    phase: Phase,
    user: User,
    filename: str,
    upload: ValidatedUpload,
    data: bytes,
    now: datetime | None = None,
) -> Submission:
    """Charge the quota, store the code and commit the row in state `queued`.

    On return the row and the code are durable; only then may the caller enqueue it. Any
    failure before the commit rolls everything back, quota included.
    """
    now = now or utcnow()
    if user.team_id is None:
        raise Conflict("only team members can submit; create or join a team first")
    if phase.archived:
        raise PhaseClosed(f"phase {phase.name!r} is archived and accepts no submissions")
    if not phase.is_open(now):
        raise PhaseClosed(
            f"phase {phase.name!r} accepts submissions from {phase.starts_at.isoformat()} "
            f"to {phase.ends_at.isoformat()}"
        )
    if preparation.readiness(session, phase.id).state == PreparationState.FAILED:
        raise PhaseUnavailable(
            f"phase {phase.name!r} cannot run at the moment: its reference models could not "
            "be prepared, and the organizers have been told. Nothing was charged; submit "
            "again once the phase page shows it ready."
        )
    day = now.date()
    try:
        if not reserve_quota(
            session, team_id=user.team_id, phase_id=phase.id, day=day, limit=phase.daily_quota
        ):
            raise QuotaExceeded(
                f"your team has used its {phase.daily_quota} submissions for {day.isoformat()} "
                "(UTC) in this phase; failed submissions due to system errors are refunded"
            )
        # Counted after the quota row is locked, so a team's concurrent uploads see each
        # other (they serialise on that row until commit).
        if (
            phase.max_in_flight
            and in_flight(session, user.team_id, phase.id) >= phase.max_in_flight
        ):
            raise TooManyInFlight(
                f"your team already has {phase.max_in_flight} submissions being evaluated in "
                "this phase, its limit; submit again when one has finished (nothing was charged)"
            )
        submission = Submission(
            phase_id=phase.id,
            team_id=user.team_id,
            user_id=user.id,
            filename=filename[:255],
            kind=upload.kind,
            sha256=upload.sha256,
            size_bytes=upload.size_bytes,
            status=S.RECEIVED,
            quota_day=day,
            created_at=now,
            updated_at=now,
        )
        session.add(submission)
        session.flush()  # assigns the id that names the artifact folder
        submission.code_key = submission_code_key(submission.id, upload.kind)
        store.put_bytes(submission.code_key, data)
        _record_creation(session, submission)
        transition(session, submission, S.VALIDATED, note="static checks passed")
        transition(session, submission, S.QUEUED)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    logger.info("submission %d stored and queued (team %d)", submission.id, submission.team_id)
    return submission


def _record_creation(session: Session, submission: Submission) -> None:
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            from_status=None,
            to_status=S.RECEIVED,
            attempt=submission.attempt,
            note=f"{submission.kind} upload, {submission.size_bytes} bytes",
            at=submission.created_at,
        )
    )


def list_submissions(
    session: Session,
    *,
    team_id: int | None,
    phase_id: int | None,
    status: SubmissionStatus | None,
    limit: int | None,
    offset: int,
) -> tuple[list[Submission], int]:
    """Newest first. `team_id=None` lists every team's (organizers only); `limit=None`: all."""
    query = select(Submission)
    if team_id is not None:
        query = query.where(Submission.team_id == team_id)
    if phase_id is not None:
        query = query.where(Submission.phase_id == phase_id)
    if status is not None:
        query = query.where(Submission.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Submission.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def cancel_submission(session: Session, *, submission_id: int) -> Submission:
    """Cancel; refunded when the expensive run had not started (nothing was spent).

    Refused from the phase's end on (the team sees its private scores then, and nothing it
    does after the end may change the private board), and once the public result is stored:
    the team sees the submission finished, and its private stage is not the team's to stop.
    """
    submission = lock_submission(session, submission_id)
    if submission.phase.has_ended(utcnow()):
        session.rollback()
        raise PhaseClosed(
            f"phase {submission.phase.name!r} ended at {submission.phase.ends_at.isoformat()}; "
            "submissions can no longer be cancelled"
        )
    if submission.is_terminal or submission.public_done_at is not None:
        session.rollback()
        raise Conflict(f"submission {submission_id} is already finished or stopped")
    if submission.status in NOT_STARTED_STATUSES:
        refund_quota(session, submission)
    transition(session, submission, S.CANCELLED, note="cancelled by the team")
    session.commit()
    return submission


def select_final(session: Session, *, submission_id: int) -> Submission:
    """Make this the team's final submission for the phase (one per team and phase).

    Refused from the phase's end on: private scores are shown then, and a pick made after
    seeing them would choose by the hidden split.
    """
    submission = lock_submission(session, submission_id)
    if submission.phase.has_ended(utcnow()):
        session.rollback()
        raise PhaseClosed(
            f"phase {submission.phase.name!r} ended at {submission.phase.ends_at.isoformat()}; "
            "final submissions can no longer be chosen"
        )
    if submission.disqualified:
        session.rollback()
        raise Conflict("a disqualified submission cannot be selected")
    if submission.status == S.CANCELLED or (
        submission.status == S.FAILED and submission.public_score is None
    ):
        session.rollback()
        raise Conflict(f"a {submission.status.value} submission cannot be final")
    session.execute(
        update(Submission)
        .where(
            Submission.team_id == submission.team_id,
            Submission.phase_id == submission.phase_id,
            Submission.id != submission.id,
        )
        .values(is_final=False)
    )
    submission.is_final = True
    session.commit()
    return submission


def results_for(session: Session, *, submission_id: int, splits: Iterable[str]) -> list[Result]:
    """The newest attempt's result per split."""
    rows = session.scalars(
        select(Result)
        .where(Result.submission_id == submission_id, Result.split.in_(list(splits)))
        .order_by(Result.split, Result.attempt.desc())
    )
    newest: dict[str, Result] = {}
    for row in rows:
        newest.setdefault(row.split, row)
    return list(newest.values())


def rescore(session: Session, *, submission_id: int) -> Submission:
    """Re-evaluate as a new attempt of the same submission (never a new submission)."""
    submission = lock_submission(session, submission_id)
    if submission.status not in (S.FINISHED, S.FAILED):
        session.rollback()
        raise Conflict(
            f"submission {submission_id} is {submission.status.value}; only finished or failed "
            "submissions can be rescored"
        )
    submission.attempt += 1
    submission.failure_category = None
    submission.failure_message = ""
    submission.sanity_check_passed = None
    transition(
        session, submission, S.QUEUED, note=f"rescore by an organizer: attempt {submission.attempt}"
    )
    session.commit()
    return submission


def disqualify(session: Session, *, submission_id: int, reason: str) -> Submission:
    submission = lock_submission(session, submission_id)
    submission.disqualified = True
    submission.disqualified_reason = reason
    submission.is_final = False
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            from_status=submission.status,
            to_status=submission.status,
            attempt=submission.attempt,
            note=f"disqualified: {reason}",
        )
    )
    session.commit()
    return submission


def reinstate(session: Session, *, submission_id: int) -> Submission:
    """Undo a disqualification (recorded as an event; the final pick is the team's to redo)."""
    submission = lock_submission(session, submission_id)
    if not submission.disqualified:
        session.rollback()
        raise Conflict(f"submission {submission_id} is not disqualified")
    submission.disqualified = False
    submission.disqualified_reason = ""
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            from_status=submission.status,
            to_status=submission.status,
            attempt=submission.attempt,
            note="disqualification withdrawn by an organizer",
        )
    )
    session.commit()
    return submission
