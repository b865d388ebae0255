"""Claim a queued submission and send its work: the sanity run, or the shards as a chord.

`start_evaluation(submission_id=)` is what the API's queue sends after the upload commits.
A submission whose phase is not prepared yet stays queued (the preparation starts it when
both splits are ready, `worker.tasks.provision`); one whose phase failed to prepare fails as
a system error, refunded. Otherwise it moves the row queued -> sanity_check (or running),
records the attempt's shard plan (`worker.leases.begin_attempt`), commits, and only then
enqueues the next step. A duplicate message finds the row no longer queued and does nothing.

`dispatch_shards` sends the shards that are not done yet as a Celery group whose chord
callback is `finish_evaluation`; it is also what the reconciler re-sends. An attempt runs in
two stages: the public split's shards, scored and stored first, then the private split's
(`leases.stage`), so the public result never waits on private runs. In a racing phase
(`worker.racing`) the public stage sends only the shards of the round in progress: each
round is its own chord, and `finish_evaluation` sends the next one.
"""

from __future__ import annotations

import logging

from celery import chord, group
from sqlalchemy.orm import Session

from competition import errors, lifecycle, preparation, records
from competition.models import Submission, SubmissionStatus
from competition.pipeline_models import PreparationState, ShardRun, ShardState
from worker import leases, racing
from worker.celery_app import app
from worker.context import get_context
from worker.phases import phase_info
from worker.recovery import plan_shards
from worker.tasks.provision import send_preparation

logger = logging.getLogger(__name__)

__all__ = ["dispatch_shards", "start_evaluation"]


@app.task(name="worker.start_evaluation")
def start_evaluation(*, submission_id: int) -> str:
    ctx = get_context()
    with ctx.sessions() as session:
        waiting = _phase_not_ready(session, submission_id)
    if waiting:
        return waiting
    with ctx.sessions() as session:
        try:
            submission = lifecycle.start_sanity_check(
                session, submission_id=submission_id, worker=ctx.holder
            )
        except (errors.Conflict, errors.NotFound) as exc:
            logger.info("start_evaluation(%d) skipped: %s", submission_id, exc)
            return "skipped"
        attempt, status = submission.attempt, submission.status
        phase = phase_info(submission.phase)
        config = racing.config_of(phase)
        shards = plan_shards(
            phase.config.replicas,
            ctx.settings.shard_size,
            rounds=config.rounds(phase.config.replicas) if config else (),
        )
        leases.begin_attempt(
            session,
            submission_id=submission_id,
            attempt=attempt,
            shards=shards,
            holder=ctx.holder,
            lease_s=ctx.settings.lease_s,
        )
    if status == SubmissionStatus.SANITY_CHECK:
        app.signature(
            "worker.run_sanity", kwargs={"submission_id": submission_id, "attempt": attempt}
        ).apply_async(queue=ctx.settings.shard_queue)
    else:
        dispatch_shards(submission_id=submission_id, attempt=attempt)
    return status.value


def _phase_not_ready(session: Session, submission_id: int) -> str:
    """'' when the submission's phase is ready (or the submission is no longer queued);
    else hold it queued and have the phase prepared, or fail it when the phase cannot run."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.status != SubmissionStatus.QUEUED:
        return ""  # start_sanity_check says why it does nothing
    ready = preparation.readiness(session, submission.phase_id)
    if ready.state == PreparationState.READY:
        return ""
    if ready.state == PreparationState.FAILED:
        preparation.fail_waiting(session, submission.phase_id)
        return "phase_unavailable"
    # Pending or preparing: the preparation starts the phase's queued submissions when ready.
    send_preparation(submission.phase_id)
    return "waiting_for_phase"


def dispatch_shards(*, submission_id: int, attempt: int) -> int:
    """Send every shard of the attempt's current stage (racing: of its current round) that is
    not done as one chord; returns how many. The public split runs first; the private split
    only once the public result is stored (`leases.stage`)."""
    ctx = get_context()
    with ctx.sessions() as session:
        split = leases.stage(session, submission_id=submission_id, attempt=attempt)
        rows = session.execute(
            ShardRun.__table__.select().where(
                ShardRun.submission_id == submission_id,
                ShardRun.attempt == attempt,
                ShardRun.split == split,
                ShardRun.state != ShardState.DONE,
            )
        ).all()
        phase = phase_info(records.get_submission(session, submission_id).phase)
        config = racing.config_of(phase)
        if split == "private":
            n = leases.private_runs(session, submission_id=submission_id, attempt=attempt)
            rows = [row for row in rows if max(row.seeds) < n]
        elif config is not None:
            _, n = racing.current_round(
                session,
                submission_id=submission_id,
                attempt=attempt,
                rounds=config.rounds(phase.config.replicas),
            )
            rows = [row for row in rows if max(row.seeds) < n]
    ids = {"submission_id": submission_id, "attempt": attempt}
    header = group(
        app.signature("worker.run_shard", kwargs={**ids, "shard": row.shard}).set(
            queue=ctx.settings.shard_queue
        )
        for row in rows
    )
    callback = app.signature("worker.finish_evaluation", kwargs=ids).set(queue="control")
    if rows:
        chord(header)(callback)
    else:
        callback.apply_async()
    logger.info(
        "submission %d attempt %d: %d %s shards sent", submission_id, attempt, len(rows), split
    )
    return len(rows)
