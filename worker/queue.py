"""The API's evaluation queue backed by Celery: `CeleryQueue.enqueue(submission_id)`.

The upload route commits the submission (status `queued`) before calling `enqueue`, so the
message never names a row that is not there. If the broker is unreachable (Redis
restarting) the message is not sent and the row stays queued: the reconciler re-sends it
after `queued_grace_s`, so an upload is never lost and never fails because of the broker.
"""

from __future__ import annotations

import logging

from celery import Celery

logger = logging.getLogger(__name__)

__all__ = ["CeleryQueue"]


class CeleryQueue:
    """The `EvaluationQueue` of `competition.queue`: sends `worker.start_evaluation` and
    `worker.request_preparation` (control)."""

    def __init__(self, app: Celery | None = None) -> None:
        if app is None:
            from worker.celery_app import app as default_app

            app = default_app
        self.app = app

    def enqueue(self, submission_id: int) -> None:
        self._send(
            "worker.start_evaluation",
            {"submission_id": submission_id},
            lost=f"submission {submission_id} stays queued for the reconciler",
        )

    def prepare_phase(self, phase_id: int) -> None:
        # To the control queue: a worker there knows which queue trains (cpu or gpu).
        self._send(
            "worker.request_preparation",
            {"phase_id": phase_id},
            lost=f"phase {phase_id} stays pending for the reconciler",
        )

    def _send(self, task: str, kwargs: dict[str, int], *, lost: str) -> None:
        """Send to the control queue; an unreachable broker is logged, never raised: the
        committed row is the record, and the reconciler re-sends what was lost."""
        try:
            self.app.signature(task, kwargs=kwargs).apply_async(
                queue="control", retry=True, retry_policy={"max_retries": 2}
            )
        except Exception:
            logger.warning("broker unreachable; %s", lost, exc_info=True)
