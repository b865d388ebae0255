"""The interface between the API and the evaluation workers: `EvaluationQueue`.

The upload route commits the submission row (status `queued`) and its code to storage, and
only then calls `queue.enqueue(submission_id)`. The database row in state `queued` IS the
durable queue record: a broker message that gets lost is found again by a reconciler that
lists queued rows (`crud.list_queued`). The app takes its queue from `app.state.queue`
(see `create_app(queue=...)`), so the pipeline can plug in a Celery implementation.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)

__all__ = ["DatabaseQueue", "EvaluationQueue"]


@runtime_checkable
class EvaluationQueue(Protocol):
    def enqueue(self, submission_id: int) -> None:
        """Hand a committed, `queued` submission to the workers. Must not raise on duplicates."""
        ...


class DatabaseQueue:
    """Embedded default without a broker: the `queued` row is the record; nothing to send.

    A worker (or `unlearn` dry-run tooling) polls `crud.list_queued` and claims rows with
    `crud.claim_next`.
    """

    def enqueue(self, submission_id: int) -> None:
        logger.info("submission %d queued (database queue)", submission_id)
