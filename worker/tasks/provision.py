"""Prepare a phase: train each split's original and N references, publish them, say so.

`prepare_phase(phase_id=, split=)` claims the split's `PhasePreparation` row
(`competition.preparation`; a second delivery finds it held, ready or failed and returns),
has the backend train what the artifact store does not already hold (the cache is keyed by
content hash: a second call trains nothing), and keeps the row's lease and progress fresh
while it does. Then:

- ready: when both splits are, the phase's queued submissions are started;
- it raised: the split is failed with the reason (shown to organizers), and every submission
  waiting on the phase fails as a system error, refunded. Nothing is retried by itself: the
  cause is in the phase or the workers' data, and an organizer prepares again once fixed.

`send_preparation(phase_id)` sends both splits (the API's queue, `start_evaluation` for a
phase that is not ready); `provision` first puts them back to pending (`unlearn
prepare-phase` after a failure, or `--again`); the reconciler re-sends lost messages. Progress
also goes to Celery's task state `PROGRESS` (`{"stage", "done", "total"}`, visible in
Flower).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from celery import Task
from sqlalchemy.orm import Session, sessionmaker

from competition import lifecycle, preparation, records
from competition.pipeline_models import PreparationState
from worker.celery_app import app
from worker.context import get_context
from worker.leases import Periodic
from worker.phases import phase_info

logger = logging.getLogger(__name__)

__all__ = ["prepare_phase", "provision", "request_preparation", "send_preparation"]

PROGRESS_EVERY_S = 2.0  # write progress at most this often (stage changes always)


@app.task(name="worker.prepare_phase", bind=True)
def prepare_phase(self: Task, *, phase_id: int, split: str) -> dict[str, Any]:
    ctx = get_context()
    holder = f"{ctx.holder}/{uuid.uuid4().hex[:8]}"
    outcome: dict[str, Any] = {"phase_id": phase_id, "split": split}
    with ctx.sessions() as session:
        claimed = preparation.claim(
            session, phase_id=phase_id, split=split, holder=holder, lease_s=ctx.settings.lease_s
        )
        if not claimed:
            return {**outcome, "claim": "not claimed (held, ready or failed)"}
        phase = phase_info(records.get_phase(session, phase_id))
    beat = _PreparationBeat(
        ctx.sessions,
        phase_id=phase_id,
        split=split,
        holder=holder,
        lease_s=ctx.settings.lease_s,
        every_s=ctx.settings.heartbeat_s,
    )

    def progress(stage: str, done: int, total: int) -> None:
        beat.report(stage, done, total)
        if self.request.id:  # no task state to update when called directly
            self.update_state(state="PROGRESS", meta={"stage": stage, "done": done, "total": total})

    try:
        with beat:
            retrain_seconds = ctx.backend.prepare(phase=phase, split=split, progress=progress)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.exception("phase %d %s cannot be prepared", phase_id, split)
        with ctx.sessions() as session:
            if preparation.fail(
                session, phase_id=phase_id, split=split, holder=holder, error=reason
            ):
                failed = preparation.fail_waiting(session, phase_id)
                logger.warning("phase %d: waiting submissions %s failed", phase_id, failed)
        return {**outcome, "failed": reason}
    with ctx.sessions() as session:
        ready = preparation.finish(
            session,
            phase_id=phase_id,
            split=split,
            holder=holder,
            retrain_seconds=retrain_seconds,
        )
        queued = (
            preparation.queued_submissions(session, phase_id)
            if ready.state == PreparationState.READY
            else []
        )
    logger.info("phase %d %s prepared; %d queued submissions started", phase_id, split, len(queued))
    for submission_id in queued:
        app.signature(
            "worker.start_evaluation", kwargs={"submission_id": submission_id}
        ).apply_async(queue="control")
    return {**outcome, "retrain_seconds": retrain_seconds, "started": queued}


class _PreparationBeat(Periodic):
    """Keeps the split's lease while it trains; writes progress at most every few seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        phase_id: int,
        split: str,
        holder: str,
        lease_s: float,
        every_s: float,
    ) -> None:
        super().__init__(every_s=every_s, name="preparation-heartbeat")
        self._sessions = sessions
        self._split = (phase_id, split)
        self._holder, self._lease_s = holder, lease_s
        self._written: tuple[str, float] = ("", 0.0)

    def beat(self) -> None:
        self._renew(None)

    def _renew(self, progress: tuple[str, int, int] | None) -> None:
        phase_id, split = self._split
        with self._sessions() as session:
            preparation.renew(
                session,
                phase_id=phase_id,
                split=split,
                holder=self._holder,
                lease_s=self._lease_s,
                progress=progress,
            )

    def report(self, stage: str, done: int, total: int) -> None:
        # Progress is for people watching; a failed write must never fail the training.
        last_stage, last_time = self._written
        now = time.monotonic()
        if stage == last_stage and now - last_time < PROGRESS_EVERY_S and done < total:
            return
        self._written = (stage, now)
        try:
            self._renew((stage, done, total))
        except Exception:
            logger.warning("preparation progress of %s not recorded", self._split, exc_info=True)


def send_preparation(phase_id: int) -> None:
    """Send the preparation of both splits (a held, ready or failed split ignores it)."""
    queue = get_context().settings.shard_queue
    for split in lifecycle.SPLITS:
        prepare_phase.si(phase_id=phase_id, split=split).apply_async(queue=queue)


@app.task(name="worker.request_preparation")
def request_preparation(*, phase_id: int) -> str:
    """The API's request (control queue): send both splits to the queue that trains."""
    send_preparation(phase_id)
    return "sent"


def provision(phase_id: int) -> None:
    """Prepare both splits again from pending (after a failure was fixed, or on request)."""
    with get_context().sessions() as session:
        preparation.reset(session, phase_id)
        session.commit()
    send_preparation(phase_id)
