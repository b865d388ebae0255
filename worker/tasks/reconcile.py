"""Beat task: re-send what `worker.reconcile.find_stuck` finds stuck.

Scheduled every `reconcile_every_s` by beat, with an expiry of the same length so that
reconcile messages piled up while no worker listened are dropped rather than run in a burst.
Single shards are re-sent one by one (their completion checks whether all are done and sends
the scoring step itself); nothing here runs an evaluation.
"""

from __future__ import annotations

import logging

from worker.celery_app import app
from worker.context import get_context
from worker.reconcile import find_stuck

logger = logging.getLogger(__name__)

__all__ = ["reconcile"]


@app.task(name="worker.reconcile")
def reconcile() -> dict[str, int]:
    ctx = get_context()
    with ctx.sessions() as session:
        resend = find_stuck(session, settings=ctx.settings)
    for submission_id in resend.start:
        app.signature(
            "worker.start_evaluation", kwargs={"submission_id": submission_id}
        ).apply_async(queue="control")
    for submission_id, attempt in resend.sanity:
        app.signature(
            "worker.run_sanity", kwargs={"submission_id": submission_id, "attempt": attempt}
        ).apply_async(queue=ctx.settings.shard_queue)
    for submission_id, attempt, shard in resend.shards:
        kwargs = {"submission_id": submission_id, "attempt": attempt, "shard": shard}
        app.signature("worker.run_shard", kwargs=kwargs).apply_async(queue=ctx.settings.shard_queue)
    for submission_id, attempt in resend.finish:
        app.signature(
            "worker.finish_evaluation", kwargs={"submission_id": submission_id, "attempt": attempt}
        ).apply_async(queue="control")
    for phase_id, split in resend.prepare:
        app.signature(
            "worker.prepare_phase", kwargs={"phase_id": phase_id, "split": split}
        ).apply_async(queue=ctx.settings.shard_queue)
    kinds = ("start", "sanity", "shards", "finish", "prepare")
    counts = {kind: len(getattr(resend, kind)) for kind in kinds}
    if resend:
        logger.warning("reconcile re-sent %s", counts)
    return counts
