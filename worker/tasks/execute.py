"""Run a submission: the sanity run, and one shard (a few seeds in one sandbox container).

`run_shard(submission_id=, attempt=, shard=)` claims the shard in the database (a second
delivery finds it done or held by a live worker and returns), reads its split and seeds from
the shard's row, renews its lease while the backend runs the seeds in the sandbox and
evaluates the weights outside it,
stores the compact arrays (`ShardArrays`, never weights) in the artifact store, marks the
shard done, and when it was the last one sends the scoring step. The chord callback sends
it as well; scoring is fenced and idempotent, so the second is a no-op.

Errors: a `SubmissionError` (an archive that cannot be staged included) fails the submission
with its own message (the participant's doing, charged); anything else releases the shard so
the reconciler re-sends it, and after `max_attempts` tries the evaluation is retried or
failed as a system error.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from competition import errors, lifecycle, records
from competition.run_logs import PER_SEED_CHARS, tail
from harness.errors import SubmissionError
from worker import leases
from worker.backend import shard_key
from worker.celery_app import app
from worker.context import get_context
from worker.phases import phase_info
from worker.recovery import failure_category
from worker.staging import staged_submission
from worker.tasks.dispatch import dispatch_shards

logger = logging.getLogger(__name__)

__all__ = ["run_sanity", "run_shard"]


@app.task(name="worker.run_sanity")
def run_sanity(*, submission_id: int, attempt: int) -> str:
    ctx = get_context()
    with ctx.sessions() as session:
        if not leases.is_current(session, submission_id=submission_id, attempt=attempt):
            return "stale"
        submission = records.get_submission(session, submission_id)
        phase, code = phase_info(submission.phase), (submission.code_key, submission.kind)
    message = ""
    beat = _heartbeat(submission_id, attempt, shard=None)
    with beat:
        try:  # staging too: an archive that cannot be extracted fails the check (charged)
            with staged_submission(ctx.store, code_key=code[0], kind=code[1]) as folder:
                ctx.backend.sanity_check(phase=phase, submission_dir=folder)
        except SubmissionError as exc:
            # The harness's message reads on its own ("unlearning() raised KeyError: ..."): the
            # category's code name is no word for the team's page.
            message = exc.message or f"the sanity run failed ({exc.category})"
            if exc.log_excerpt:  # its traceback and output: what the team debugs from
                logs = f"== the sanity run ==\n{tail(exc.log_excerpt, PER_SEED_CHARS)}\n"
                with ctx.sessions() as session:
                    lifecycle.attach_logs(
                        session, ctx.store, submission_id=submission_id, attempt=attempt, text=logs
                    )
    with ctx.sessions() as session:
        try:
            lifecycle.record_sanity_check(
                session,
                submission_id=submission_id,
                attempt=attempt,
                passed=not message,
                message=message,
            )
        except (errors.StaleAttempt, errors.Conflict) as exc:
            logger.info("sanity result of %d/%d dropped: %s", submission_id, attempt, exc)
            return "stale"
    if not message:
        dispatch_shards(submission_id=submission_id, attempt=attempt)
    return message or "passed"


@app.task(name="worker.run_shard")
def run_shard(*, submission_id: int, attempt: int, shard: int) -> dict[str, Any]:
    ctx = get_context()
    ids = {"submission_id": submission_id, "attempt": attempt}
    with ctx.sessions() as session:
        claim = leases.claim_shard(
            session, **ids, shard=shard, holder=ctx.holder, lease_s=ctx.settings.lease_s
        )
        if claim is not leases.Claim.CLAIMED:
            return {"shard": shard, "claim": claim.value}
        split, seeds = leases.shard_plan(session, **ids, shard=shard)
        submission = records.get_submission(session, submission_id)
        phase, code = phase_info(submission.phase), (submission.code_key, submission.kind)
    try:
        with (
            _heartbeat(submission_id, attempt, shard=shard),
            staged_submission(ctx.store, code_key=code[0], kind=code[1]) as folder,
        ):
            runs = ctx.backend.run_shard(
                phase=phase,
                submission_dir=folder,
                split=split,
                seeds=seeds,
                gpu=ctx.settings.worker_gpu,
                on_seed_done=lambda done: _record_seeds_done(**ids, shard=shard, done=done),
            )
    except SubmissionError as exc:
        if split == "public" and exc.log_excerpt:  # the private split's output stays hidden
            _attach_failure_log(submission_id, attempt, seeds, exc.log_excerpt)
        _fail(submission_id, attempt, exc, split=split)
        return {"shard": shard, "claim": "claimed", "failed": exc.category}
    except Exception:
        with ctx.sessions() as session:
            leases.release_shard(session, **ids, shard=shard, holder=ctx.holder)
        raise
    key = shard_key(submission_id, attempt, shard)
    ctx.store.put_bytes(key, runs.to_bytes())
    with ctx.sessions() as session:
        leases.finish_shard(
            session, **ids, shard=shard, output_key=key, seconds=float(np.sum(runs.seconds))
        )
        done, total = leases.stage_progress(session, **ids, split=split)
    # The chord's callback may be lost with the broker: send it ourselves. A racing round
    # (or a private stage cut at the race's n) may end at any shard; finish_evaluation finds
    # out which (cheap when it is not yet).
    if done == total or phase.config.racing is not None:
        app.signature("worker.finish_evaluation", kwargs=ids).apply_async(queue="control")
    return {"shard": shard, "split": split, "key": key, "seeds": runs.seeds.tolist()}


def _record_seeds_done(*, submission_id: int, attempt: int, shard: int, done: int) -> None:
    # Progress is for people watching; a failed write must never fail the run.
    try:
        with get_context().sessions() as session:
            leases.record_seeds_done(
                session, submission_id=submission_id, attempt=attempt, shard=shard, done=done
            )
    except Exception:
        logger.warning("progress of %d/%d shard %d not recorded", submission_id, attempt, shard)


def _attach_failure_log(submission_id: int, attempt: int, seeds: list[int], text: str) -> None:
    ctx = get_context()
    logs = f"== the run that failed (one of seeds {seeds}) ==\n{tail(text, PER_SEED_CHARS)}\n"
    with ctx.sessions() as session:
        lifecycle.attach_logs(
            session, ctx.store, submission_id=submission_id, attempt=attempt, text=logs
        )


def _fail(submission_id: int, attempt: int, error: SubmissionError, *, split: str) -> None:
    """The participant's code failed: fail the submission with its own message (shown to the
    team only for a public-split run: `split` decides)."""
    with get_context().sessions() as session:
        lifecycle.mark_failed(
            session,
            submission_id=submission_id,
            attempt=attempt,
            category=failure_category(error),
            message=error.message,
            system_error=False,
            split=split,
        )


def _heartbeat(submission_id: int, attempt: int, *, shard: int | None) -> leases.Heartbeat:
    ctx = get_context()
    return leases.Heartbeat(
        ctx.sessions,
        submission_id=submission_id,
        attempt=attempt,
        shard=shard,
        holder=ctx.holder,
        lease_s=ctx.settings.lease_s,
        every_s=ctx.settings.heartbeat_s,
    )
