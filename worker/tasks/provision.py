"""Prepare a phase before it opens: train the original and the N references, publish them.

`provision(phase_id)` sends one `prepare_phase` task per split (public, private) as a
group, so two workers train them side by side. Each task trains what the artifact store
does not already hold (the harness's cache is keyed by content hash: a second call trains
nothing), reports its progress as Celery task state `PROGRESS` with
`{"stage", "done", "total"}` (visible in Flower), and publishes the cache under
`reference-cache/` for every worker to pull.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from celery import Task, group
from celery.result import GroupResult

from api import crud
from harness.config import SplitName
from harness.dryrun import prepare_phase as prepare
from worker.celery_app import app
from worker.context import get_context
from worker.phases import phase_config, pull_cache, push_cache
from worker.recovery import SPLITS, phase_info

logger = logging.getLogger(__name__)

__all__ = ["prepare_phase", "provision"]


@app.task(name="worker.prepare_phase", bind=True)
def prepare_phase(self: Task, *, phase_id: int, split: str) -> dict[str, Any]:
    ctx = get_context()
    with ctx.sessions() as session:
        config = phase_config(phase_info(crud.get_phase(session, phase_id)))
    cache_dir = Path(ctx.settings.data_dir) / "cache"
    pull_cache(ctx.store, cache_dir)

    def progress(stage: str, done: int, total: int) -> None:
        if self.request.id:  # no state to update when called directly
            self.update_state(state="PROGRESS", meta={"stage": stage, "done": done, "total": total})

    prepared = prepare(config, split=cast(SplitName, split), cache_dir=cache_dir, progress=progress)
    pushed = push_cache(ctx.store, cache_dir)
    logger.info("phase %d %s prepared; %d cache files published", phase_id, split, pushed)
    return {
        "phase_id": phase_id,
        "split": split,
        "reference": prepared.reference.key,
        "trained": not prepared.reference.cached,
        "retrain_seconds": prepared.reference.retrain_seconds,
        "published_files": pushed,
    }


def provision(phase_id: int) -> GroupResult:
    """Send the preparation of both splits of a phase; returns the group to wait on."""
    queue = get_context().settings.shard_queue
    tasks = group(
        prepare_phase.si(phase_id=phase_id, split=split).set(queue=queue) for split in SPLITS
    )
    return tasks.apply_async()
