"""Beat task: remove what dead evaluations leave behind.

- sandbox containers whose worker died (the Docker runner's `reap_orphans`, by label);
- shard outputs of attempts that are no longer current, once the submission is terminal
  (the current attempt's outputs stay: they let an organizer rescore without rerunning).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from competition.models import TERMINAL_STATUSES, Submission
from competition.pipeline_models import EvaluationLease
from worker.celery_app import app
from worker.context import get_context

logger = logging.getLogger(__name__)

__all__ = ["cleanup"]


@app.task(name="worker.cleanup")
def cleanup() -> dict[str, int]:
    ctx = get_context()
    reaped = 0
    if ctx.settings.sandbox.kind == "docker":
        from harness.runs.sandbox.reaper import reap_orphans

        reaped = len(reap_orphans() or [])
    with ctx.sessions() as session:
        old = session.execute(
            select(EvaluationLease.submission_id, EvaluationLease.attempt)
            .join(Submission, Submission.id == EvaluationLease.submission_id)
            .where(
                Submission.status.in_(TERMINAL_STATUSES),
                EvaluationLease.attempt < Submission.attempt,
            )
        ).all()
    for submission_id, attempt in old:
        ctx.store.delete_prefix(f"evaluations/{submission_id}/attempt-{attempt}")
    return {"containers": reaped, "attempts": len(old)}
