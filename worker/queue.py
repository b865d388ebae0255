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
    """`api.queue.EvaluationQueue` that sends `worker.start_evaluation` on the control queue."""

    def __init__(self, app: Celery | None = None) -> None:
        if app is None:
            from worker.celery_app import app as default_app

            app = default_app
        self.app = app

    def enqueue(self, submission_id: int) -> None:
        try:
            self.app.signature(
                "worker.start_evaluation", kwargs={"submission_id": submission_id}
            ).apply_async(queue="control", retry=True, retry_policy={"max_retries": 2})
        except Exception:
            logger.warning(
                "broker unreachable; submission %d stays queued for the reconciler",
                submission_id,
                exc_info=True,
            )
