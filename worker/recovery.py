"""What to do when an evaluation step fails for reasons that are ours, not the submission's.

`retry_or_fail` moves the submission to attempt + 1 (back to `queued`, re-sent by the
caller) while attempts remain, and otherwise fails it as a system error, which refunds the
team's quota. Tasks call it on unexpected errors; the reconciler calls it when a holder
keeps dying.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from competition import errors, lifecycle
from competition.models import FailureCategory
from harness.errors import SubmissionError

logger = logging.getLogger(__name__)

__all__ = ["failure_category", "plan_shards", "retry_or_fail"]

SYSTEM_FAILURE_MESSAGE = (
    "The evaluation failed {attempts} times for reasons on our side; your quota was refunded. "
    "The organizers have been notified."
)


def retry_or_fail(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    reason: str,
    max_attempts: int,
    category: FailureCategory = FailureCategory.WORKER_LOST,
) -> bool:
    """True when the submission was re-queued as attempt + 1 (the caller must re-send it)."""
    try:
        if attempt < max_attempts:
            lifecycle.requeue_for_retry(
                session, submission_id=submission_id, attempt=attempt, reason=reason
            )
            logger.warning("submission %d attempt %d retried: %s", submission_id, attempt, reason)
            return True
        logger.error("submission %d failed after %d attempts: %s", submission_id, attempt, reason)
        lifecycle.mark_failed(
            session,
            submission_id=submission_id,
            attempt=attempt,
            category=category,
            message=SYSTEM_FAILURE_MESSAGE.format(attempts=attempt),
            system_error=True,
        )
    except (errors.StaleAttempt, errors.Conflict, errors.NotFound) as exc:
        logger.info("submission %d: retry skipped (%s)", submission_id, exc)
    return False


def plan_shards(
    replicas: int, shard_size: int, *, rounds: Sequence[int] = ()
) -> list[tuple[str, list[int]]]:
    """Per split, seeds 0..replicas-1 cut into consecutive shards of at most `shard_size`.

    `rounds` (racing's round sizes) are cut points too, so that no shard straddles two
    rounds and a round is a set of whole shards.
    """
    if replicas <= 0:
        raise ValueError(f"a phase needs at least one replica, got {replicas}")
    cuts = sorted({0, replicas, *(n for n in rounds if 0 < n < replicas)})
    return [
        (split, list(range(start, min(start + shard_size, end))))
        for split in lifecycle.SPLITS
        for begin, end in zip(cuts, cuts[1:], strict=False)
        for start in range(begin, end, shard_size)
    ]


def failure_category(error: SubmissionError) -> FailureCategory:
    """The server's category for a submission's error (a plain crash when it has none)."""
    try:
        return FailureCategory(error.category)
    except ValueError:
        return FailureCategory.EXCEPTION
