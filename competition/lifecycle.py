"""The worker side of a submission's life: every status change an evaluation makes.

    start_sanity_check   queued -> sanity_check (or running when the phase needs none)
    record_sanity_check  sanity_check -> running | failed
    start_scoring        running -> scoring
    record_result        one split's score (idempotent); both splits stored -> finished
    start_private_stage  scoring -> running: the public result is stored, the private split runs
    mark_failed          -> failed with a category; a system error refunds the quota
    requeue_for_retry    a transient system failure: queued again as attempt + 1
    attach_logs          the run's logs as an artifact
    heartbeat            the worker's liveness row

Each takes the attempt it acts for and is refused (`StaleAttempt`) when a newer attempt
exists, so a worker that lost its lease cannot overwrite what its successor did.
Status changes go through `models.transition()` under the row lock (`lock_submission`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from competition.artifacts import ArtifactStore
from competition.errors import Conflict, StaleAttempt
from competition.models import (
    FailureCategory,
    Result,
    Submission,
    SubmissionStatus,
    Worker,
    transition,
    utcnow,
)
from competition.quota import refund_quota
from competition.records import lock_submission
from harness.report.schema import EvaluationReport

logger = logging.getLogger(__name__)

__all__ = [
    "SPLITS",
    "attach_logs",
    "heartbeat",
    "mark_failed",
    "record_result",
    "record_sanity_check",
    "requeue_for_retry",
    "start_private_stage",
    "start_sanity_check",
    "start_scoring",
]

S = SubmissionStatus
SPLITS = ("public", "private")


def start_sanity_check(session: Session, *, submission_id: int, worker: str) -> Submission:
    """queued -> sanity_check, or straight to running when the phase needs no sanity check."""
    submission = lock_submission(session, submission_id)
    if submission.status != S.QUEUED:
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}, not queued")
    if submission.phase.sanity_check_required:
        transition(session, submission, S.SANITY_CHECK, note=f"worker {worker}")
    else:
        transition(session, submission, S.RUNNING, note=f"worker {worker}; no sanity check")
    _touch_worker(session, worker, submission.id)
    session.commit()
    return submission


def record_sanity_check(
    session: Session, *, submission_id: int, attempt: int, passed: bool, message: str = ""
) -> Submission:
    """Outcome of the cheap run on public data: pass -> running; fail -> failed (user error)."""
    submission = lock_submission(session, submission_id)
    check_attempt(session, submission, attempt)
    if submission.status != S.SANITY_CHECK:
        session.rollback()
        if submission.sanity_check_passed == passed:
            return submission  # replayed message: already recorded
        raise Conflict(f"submission {submission_id} is {submission.status.value}")
    submission.sanity_check_passed = passed
    if passed:
        transition(session, submission, S.RUNNING, note="sanity check passed")
    else:
        submission.failure_category = FailureCategory.SANITY_CHECK_FAILED
        submission.failure_message = message
        transition(session, submission, S.FAILED, note="sanity check failed")
    session.commit()
    return submission


def start_scoring(session: Session, *, submission_id: int, attempt: int) -> Submission:
    return _advance(session, submission_id, attempt, S.SCORING, "runs done; scoring")


def start_private_stage(session: Session, *, submission_id: int, attempt: int) -> Submission:
    """scoring -> running once the public result is stored: the private split's runs follow."""
    return _advance(session, submission_id, attempt, S.RUNNING, "public result stored")


def _advance(
    session: Session, submission_id: int, attempt: int, to: SubmissionStatus, note: str
) -> Submission:
    submission = lock_submission(session, submission_id)
    check_attempt(session, submission, attempt)
    if submission.status == to:
        session.rollback()
        return submission  # idempotent replay
    try:
        transition(session, submission, to, note=note)
    except ValueError as exc:
        session.rollback()
        raise Conflict(str(exc)) from None
    session.commit()
    return submission


def record_result(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    split: Literal["public", "private"],
    report: EvaluationReport,
    plot_keys: Sequence[str] = (),
) -> Result:
    """Store the scorer's report for one split; idempotent per (submission, split, attempt).

    `report` is `harness.report.schema.EvaluationReport`; its score, interval, forget quality,
    noise floor and estimator are copied to columns, and the whole report stored as JSON.
    When both splits of the current attempt are stored the submission becomes `finished`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'public' or 'private', got {split!r}")
    score = report.final_score
    if not math.isfinite(score):
        raise ValueError(f"final_score must be a finite number, got {score!r}")
    ci = report.final_score_ci or (None, None)
    submission = lock_submission(session, submission_id)
    check_attempt(session, submission, attempt)
    if submission.status in (S.CANCELLED, S.FAILED):
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}; result ignored")
    values = dict(
        estimator=report.estimator,
        score=score,
        ci_low=_optional_float(ci[0]),
        ci_high=_optional_float(ci[1]),
        forget_quality=_optional_float(report.forget_quality),
        noise_floor=_optional_float(report.noise_floor),
        report=report.to_json(),
        plot_keys=list(plot_keys),
    )
    result = session.scalar(
        select(Result).where(
            Result.submission_id == submission_id, Result.split == split, Result.attempt == attempt
        )
    )
    if result is None:
        result = Result(submission_id=submission_id, split=split, attempt=attempt, **values)
        session.add(result)
    else:
        for key, value in values.items():
            setattr(result, key, value)
    setattr(submission, f"{split}_score", values["score"])
    setattr(submission, f"{split}_ci_low", values["ci_low"])
    setattr(submission, f"{split}_ci_high", values["ci_high"])
    race = report.racing
    submission.provisional_runs = race.n if race is not None and race.provisional else None
    if submission.status == S.RUNNING:
        transition(session, submission, S.SCORING, note="first result arrived")
    session.flush()
    stored = set(
        session.scalars(
            select(Result.split).where(
                Result.submission_id == submission_id, Result.attempt == attempt
            )
        )
    )
    if stored == set(SPLITS) and submission.status == S.SCORING:
        transition(session, submission, S.FINISHED, note="public and private scores stored")
    session.commit()
    return result


def mark_failed(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    category: FailureCategory | str,
    message: str,
    system_error: bool,
    split: str | None = None,
) -> Submission:
    """Fail the submission with a category; a system error refunds the team's quota.

    `message` is shown to the team, so it must not carry hidden data; `split` names the
    split whose run failed, and a "private" one shows the team its category only
    (`api.visibility`). Idempotent: failing an already failed submission changes nothing;
    finished or cancelled ones are left alone.
    """
    category = FailureCategory(category)
    submission = lock_submission(session, submission_id)
    if submission.is_terminal:
        session.rollback()
        logger.info("mark_failed on %s submission %d ignored", submission.status, submission_id)
        return submission
    check_attempt(session, submission, attempt)
    submission.failure_category = category
    submission.failure_message = message
    submission.failure_split = split
    if system_error:
        refund_quota(session, submission)
    kind = "system" if system_error else "submission"
    transition(session, submission, S.FAILED, note=f"{kind} failure: {category.value}")
    session.commit()
    return submission


def requeue_for_retry(
    session: Session, *, submission_id: int, attempt: int, reason: str
) -> Submission:
    """A transient system failure: back to `queued` as attempt + 1 (the caller re-enqueues)."""
    submission = lock_submission(session, submission_id)
    check_attempt(session, submission, attempt)
    if submission.status not in (S.SANITY_CHECK, S.RUNNING, S.SCORING):
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}")
    submission.attempt += 1
    transition(session, submission, S.QUEUED, note=f"system retry: {reason}")
    session.commit()
    return submission


def attach_logs(
    session: Session, store: ArtifactStore, *, submission_id: int, attempt: int, text: str
) -> str:
    """Store the run's logs as an artifact; returns its key."""
    key = f"submissions/{submission_id}/logs/attempt-{attempt}.txt"
    store.put_bytes(key, text.encode("utf-8"))
    submission = lock_submission(session, submission_id)
    submission.logs_key = key
    session.commit()
    return key


def heartbeat(session: Session, *, hostname: str, submission_id: int | None = None) -> None:
    _touch_worker(session, hostname, submission_id)
    session.commit()


def _touch_worker(session: Session, hostname: str, submission_id: int | None) -> None:
    worker = session.scalar(select(Worker).where(Worker.hostname == hostname))
    if worker is None:
        worker = Worker(hostname=hostname)
        session.add(worker)
    worker.last_seen = utcnow()
    worker.current_submission_id = submission_id


def check_attempt(session: Session, submission: Submission, attempt: int) -> None:
    if attempt != submission.attempt:
        session.rollback()  # releases the row lock before refusing
    if attempt < submission.attempt:
        raise StaleAttempt(
            f"submission {submission.id} is on attempt {submission.attempt}; "
            f"attempt {attempt} is stale"
        )
    if attempt > submission.attempt:
        raise Conflict(f"submission {submission.id} has no attempt {attempt} yet")


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
