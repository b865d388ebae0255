"""Chord callback: score a finished attempt, store its result and plots, update the board.

`finish_evaluation(submission_id=, attempt=)` runs when every shard of the attempt is done
(sent by the chord, by the last shard, or by the reconciler: whichever comes first wins and
the others find nothing to do). It reads the shards' compact arrays from the artifact
store, where they are fenced by attempt, so a broker that lost the chord's results costs
nothing. `crud.record_result` upserts per (submission, split, attempt) and moves the
submission to finished, which is what the leaderboard reads. A submission whose runs fail
the phase's efficiency gate (a report with `eligible: false`) fails as `too_slow` instead,
with the numbers in its message, and never reaches the board.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import select

from api import crud
from api.models import FailureCategory
from harness.config import SplitName
from worker import leases
from worker.backend import ShardArrays
from worker.celery_app import app
from worker.context import get_context
from worker.models import ShardRun
from worker.recovery import phase_info

logger = logging.getLogger(__name__)

__all__ = ["finish_evaluation"]


@app.task(name="worker.finish_evaluation")
def finish_evaluation(
    shard_results: list[Any] | None = None, *, submission_id: int, attempt: int
) -> str:
    ctx = get_context()
    ids = {"submission_id": submission_id, "attempt": attempt}
    with ctx.sessions() as session:
        done, total = leases.shard_progress(session, **ids)
        if total == 0 or done < total:
            return f"waiting ({done}/{total} shards)"
        try:
            submission = crud.start_scoring(session, **ids)
        except (crud.StaleAttempt, crud.Conflict) as exc:
            logger.info("finish_evaluation(%d/%d) skipped: %s", submission_id, attempt, exc)
            return "skipped"
        phase = phase_info(submission.phase)
        outputs = session.execute(
            select(ShardRun.split, ShardRun.output_key).where(
                ShardRun.submission_id == submission_id, ShardRun.attempt == attempt
            )
        ).all()
    beat = leases.Heartbeat(
        ctx.sessions,
        **ids,
        holder=ctx.holder,
        lease_s=ctx.settings.lease_s,
        every_s=ctx.settings.heartbeat_s,
    )
    try:
        with beat:
            runs = {
                split: ShardArrays.concatenate(
                    [
                        ShardArrays.from_bytes(ctx.store.get_bytes(k))
                        for s, k in outputs
                        if s == split
                    ]
                )
                for split in sorted({split for split, _ in outputs})
            }
            scored = ctx.backend.score(phase=phase, runs=runs)
    except Exception as exc:
        logger.exception("scoring submission %d attempt %d failed", submission_id, attempt)
        with ctx.sessions() as session:
            crud.mark_failed(
                session,
                submission_id=submission_id,
                category=FailureCategory.SCORER,
                message=f"scoring failed: {type(exc).__name__}",
                system_error=True,
            )
        return "failed"
    too_slow = [report for report in scored.reports.values() if report.get("eligible") is False]
    if too_slow:
        with ctx.sessions() as session:
            crud.mark_failed(
                session,
                submission_id=submission_id,
                category=FailureCategory.TOO_SLOW,
                message=too_slow_message(too_slow[0]),
                system_error=False,
            )
        return "too_slow"
    plot_keys = []
    for name, png in sorted(scored.plots.items()):
        plot_keys.append(f"reports/{submission_id}/attempt-{attempt}/{name}.png")
        ctx.store.put_bytes(plot_keys[-1], png)
    with ctx.sessions() as session:
        for split, report in scored.reports.items():
            try:
                crud.record_result(
                    session,
                    **ids,
                    split=cast(SplitName, split),
                    report=report,
                    plot_keys=plot_keys,
                )
            except (crud.StaleAttempt, crud.Conflict) as exc:
                logger.info("result of %d/%d dropped: %s", submission_id, attempt, exc)
                return "stale"
    return "finished"


def too_slow_message(report: dict[str, Any]) -> str:
    """What the team reads when its runs failed the efficiency gate."""
    median, retrain = report.get("run_seconds_median"), report.get("retrain_seconds")
    fraction, limit = report.get("run_fraction"), report.get("max_run_fraction")
    if None in (median, retrain, fraction, limit):
        return "the runs failed the phase's efficiency gate (too slow against one retraining)"
    return (
        f"unlearning() took {median:.2f} s per run (median), {fraction:.1%} of one retraining "
        f"({retrain:.2f} s); this phase allows at most {limit:.1%}: make it faster"
    )
