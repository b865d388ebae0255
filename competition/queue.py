"""The interface between the API and the evaluation workers: `EvaluationQueue`.

The upload route commits the submission row (status `queued`) and its code to storage, and
only then calls `queue.enqueue(submission_id)`. The database row in state `queued` IS the
durable queue record: a broker message that gets lost is found again by a reconciler that
lists queued rows (`worker.reconcile.find_stuck`). The app takes its queue from `app.state.queue`
(see `create_app(queue=...)`), so the pipeline can plug in a Celery implementation. A phase's
preparation travels the same way: pending rows first, then `queue.prepare_phase(phase_id)`.
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

    def prepare_phase(self, phase_id: int) -> None:
        """Have the workers prepare a phase whose preparation rows were committed as pending
        (`competition.preparation.reset`). Must not raise: the reconciler re-sends."""
        ...


class DatabaseQueue:
    """Embedded default without a broker: the `queued` row is the record; nothing to send.

    The workers' reconciler finds such rows and sends them (`worker.reconcile.find_stuck`);
    tests use this queue to keep uploads in `queued`.
    """

    def enqueue(self, submission_id: int) -> None:
        logger.info("submission %d queued (database queue)", submission_id)

    def prepare_phase(self, phase_id: int) -> None:
        logger.info("phase %d to prepare (database queue)", phase_id)
