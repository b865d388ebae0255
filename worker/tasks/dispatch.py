"""Claim a queued submission and send its work: the sanity run, or the shards as a chord.

`start_evaluation(submission_id=)` is what the API's queue sends after the upload commits.
It moves the row queued -> sanity_check (or running), records the attempt's shard plan
(`worker.leases.begin_attempt`), commits, and only then enqueues the next step. A duplicate
message finds the row no longer queued and does nothing.

`dispatch_shards` sends the shards that are not done yet as a Celery group whose chord
callback is `finish_evaluation`; it is also what the reconciler re-sends.
"""

from __future__ import annotations

import logging

from celery import chord, group

from api import crud
from api.models import SubmissionStatus
from worker import leases
from worker.celery_app import app
from worker.context import get_context
from worker.models import ShardRun, ShardState
from worker.recovery import phase_info, plan_shards

logger = logging.getLogger(__name__)

__all__ = ["dispatch_shards", "start_evaluation"]


@app.task(name="worker.start_evaluation")
def start_evaluation(*, submission_id: int) -> str:
    ctx = get_context()
    with ctx.sessions() as session:
        try:
            submission = crud.start_sanity_check(
                session, submission_id=submission_id, worker=ctx.holder
            )
        except (crud.Conflict, crud.NotFound) as exc:
            logger.info("start_evaluation(%d) skipped: %s", submission_id, exc)
            return "skipped"
        attempt, status = submission.attempt, submission.status
        shards = plan_shards(phase_info(submission.phase).replicas, ctx.settings.shard_size)
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


def dispatch_shards(*, submission_id: int, attempt: int) -> int:
    """Send every shard of the attempt that is not done as one chord; returns how many."""
    ctx = get_context()
    with ctx.sessions() as session:
        rows = session.execute(
            ShardRun.__table__.select().where(
                ShardRun.submission_id == submission_id,
                ShardRun.attempt == attempt,
                ShardRun.state != ShardState.DONE,
            )
        ).all()
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
    logger.info("submission %d attempt %d: %d shards sent", submission_id, attempt, len(rows))
    return len(rows)
