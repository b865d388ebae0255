"""Chord callback: score a finished stage, store its result and plots, update the board.

`finish_evaluation(submission_id=, attempt=)` runs when every shard of the attempt's current
stage is done (sent by the chord, by the last shard, or by the reconciler: whichever comes
first wins and the others find nothing to do). The public stage is scored and stored first
(the board shows it at once), then the private split's shards are sent; the second call
scores the private split and finishes the submission. In a racing phase the public stage's
callback runs after each round's chord and first asks `worker.racing.race_round` whether to
send the next round or to stop; a result that stopped before N carries `report["racing"]`
with `provisional: true` and the N it stopped at, which the board shows. It reads the
shards' compact arrays from the artifact store, where they are fenced by attempt, so a
broker that lost the chord's results costs nothing. `lifecycle.record_result` upserts per
(submission, split, attempt); both splits stored is `finished`. A stage whose runs fail the
phase's efficiency gate (a report whose `efficiency.passed` is false) fails as `too_slow`, with
the numbers in its message, and a public one never reaches the board.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import select

from competition import errors, lifecycle, records
from competition.models import FailureCategory, Result
from competition.run_logs import compose_logs
from harness.phase import LeaderboardSplit
from harness.report.schema import EvaluationReport, Racing, RoundRow
from worker import leases, racing
from worker.backend import ShardArrays
from worker.celery_app import app
from worker.context import get_context
from worker.phases import phase_info
from worker.record import store_record
from worker.tasks.dispatch import dispatch_shards

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
        if total == 0:
            return f"waiting ({done}/{total} shards)"
        split = leases.stage(session, **ids)
        race: Racing | None = None
        phase = phase_info(records.get_submission(session, submission_id).phase)
        config = racing.config_of(phase)
        if split == "private":
            n_final = leases.private_runs(session, **ids)
            race = _public_race(session, ids)
            done, total = leases.stage_progress(session, **ids, split=split, below=n_final)
            if done < total:
                return f"waiting ({done}/{total} private shards)"
        else:
            n_final, reason = phase.config.replicas, "full"
            if config is None:
                done, total = leases.stage_progress(session, **ids, split=split)
                if done < total:
                    return f"waiting ({done}/{total} shards)"
            else:
                if not leases.is_current(session, **ids):
                    return "skipped"
                try:
                    with _heartbeat(ids):  # a round's scoring runs a bootstrap
                        step, n_final, reason = racing.race_round(
                            session,
                            backend=ctx.backend,
                            store=ctx.store,
                            phase=phase,
                            config=config,
                            **ids,
                        )
                except Exception as exc:
                    return _scoring_failed(ids, exc)
                if step != "stop":
                    session.close()
                    if step == "next":
                        dispatch_shards(**ids)
                    return f"round {n_final}: {step}"
        try:
            lifecycle.start_scoring(session, **ids)
        except (errors.StaleAttempt, errors.Conflict) as exc:
            logger.info("finish_evaluation(%d/%d) skipped: %s", submission_id, attempt, exc)
            return "skipped"
        outputs = racing.round_outputs(session, **ids, n=n_final, split=split)
    try:
        with _heartbeat(ids):
            runs = {
                split: ShardArrays.concatenate(
                    [ShardArrays.from_bytes(ctx.store.get_bytes(key)) for _, key in outputs]
                )
            }
            if split == "public":
                _attach_logs(runs, **ids)
            scored = ctx.backend.score(phase=phase, runs=runs)
            report = scored.reports[split]
            if config is not None:
                if split == "public":
                    race = _race_report(ctx, phase, config, outputs, ids, n_final, reason)
                report = report.with_racing(race)
                if race and config.rule == "predicted" and n_final < phase.config.replicas:
                    report = _on_full_n_scale(ctx, phase, config, split, runs[split], report, race)
    except Exception as exc:
        return _scoring_failed(ids, exc)
    if not report.eligible:
        with ctx.sessions() as session:
            lifecycle.mark_failed(
                session,
                submission_id=submission_id,
                attempt=attempt,
                category=FailureCategory.TOO_SLOW,
                message=too_slow_message(report),
                system_error=False,
                split=split,
            )
        return "too_slow"
    if split in scored.records:  # before the result row that makes it visible
        _store_record(ctx, scored.records[split], split=split, **ids)
    plot_keys = []
    for name, png in sorted(scored.plots.items()):
        plot_keys.append(f"reports/{submission_id}/attempt-{attempt}/{name}.png")
        ctx.store.put_bytes(plot_keys[-1], png)
    with ctx.sessions() as session:
        try:
            lifecycle.record_result(
                session,
                **ids,
                split=cast(LeaderboardSplit, split),
                report=report,
                plot_keys=plot_keys,
            )
            if split == "public":
                lifecycle.start_private_stage(session, **ids)
        except (errors.StaleAttempt, errors.Conflict) as exc:
            logger.info("result of %d/%d dropped: %s", submission_id, attempt, exc)
            return "stale"
    if split == "public":
        dispatch_shards(**ids)
        return "public scored"
    return "finished"


def _store_record(ctx: Any, record: Any, *, split: str, submission_id: int, attempt: int) -> None:
    """Sign and store the split's record (`worker.record`); a failure here is logged, never
    the score's: the result stands without its record."""
    try:
        with ctx.sessions() as session:
            sha256 = records.get_submission(session, submission_id).sha256
        store_record(
            ctx.store,
            record,
            secret_key=ctx.settings.secret_key,
            submission_sha256=sha256,
            submission_id=submission_id,
            attempt=attempt,
            split=split,
        )
    except Exception:
        logger.exception("record of %d/%d %s not stored", submission_id, attempt, split)


def _public_race(session: Any, ids: dict[str, int]) -> Racing | None:
    """The race record of the attempt's public result (the private split reuses it)."""
    report = session.scalar(
        select(Result.report).where(
            Result.submission_id == ids["submission_id"],
            Result.attempt == ids["attempt"],
            Result.split == "public",
        )
    )
    return None if report is None else EvaluationReport.model_validate(report).racing


def _attach_logs(runs: dict[str, ShardArrays], *, submission_id: int, attempt: int) -> None:
    """The development split's run output, for the team (the private split's is never kept)."""
    public = runs.get("public")
    if public is None or len(public.logs) != len(public.seeds):
        return
    text = compose_logs(public.seeds.tolist(), [str(x) for x in public.logs])
    with get_context().sessions() as session:
        lifecycle.attach_logs(
            session, get_context().store, submission_id=submission_id, attempt=attempt, text=text
        )


def _scoring_failed(ids: dict[str, int], exc: Exception) -> str:
    """Our scorer failed (not the submission): a system error, the quota refunded."""
    logger.exception("scoring submission %d attempt %d failed", *ids.values())
    with get_context().sessions() as session:
        lifecycle.mark_failed(
            session,
            submission_id=ids["submission_id"],
            attempt=ids["attempt"],
            category=FailureCategory.SCORER,
            message=f"scoring failed: {type(exc).__name__}",
            system_error=True,
        )
    return "failed"


def _heartbeat(ids: dict[str, int]) -> leases.Heartbeat:
    ctx = get_context()
    return leases.Heartbeat(
        ctx.sessions,
        **ids,
        holder=ctx.holder,
        lease_s=ctx.settings.lease_s,
        every_s=ctx.settings.heartbeat_s,
    )


def _race_report(
    ctx: Any,
    phase: Any,
    config: Any,
    outputs: list[tuple[str, str]],
    ids: dict[str, int],
    n_final: int,
    reason: str,
) -> Racing:
    """The race's record for the result: the profile, with the full-N round scored at the
    racing interval when the race went the distance (other rows race against it)."""
    profile = racing.load_profile(ctx.store, ids["submission_id"], ids["attempt"])
    if n_final not in profile:
        profile = racing.score_public_round(
            backend=ctx.backend,
            store=ctx.store,
            phase=phase,
            config=config,
            outputs=outputs,
            **ids,
        )
    return racing.racing_report(profile, n=n_final, n_total=phase.config.replicas, reason=reason)


def _on_full_n_scale(
    ctx: Any,
    phase: Any,
    config: Any,
    split: str,
    runs: ShardArrays,
    report: EvaluationReport,
    race: Racing,
) -> EvaluationReport:
    """A row stopped under ``predicted`` is ranked on its predicted full-N score, the scale
    of the rows that ran N; its score at n stays in the report as `score_at_n`. The public
    split's prediction is the race's last round (already scored); the private one is made."""
    if split == "public":
        return report.on_full_n_scale(race.profile[-1])
    predicted = ctx.backend.score_round(
        phase=phase,
        runs=runs,
        confidence=config.confidence(phase.config.replicas),
        predict=True,
        split=split,
    )
    return report.on_full_n_scale(RoundRow.model_validate(predicted))


def too_slow_message(report: EvaluationReport) -> str:
    """What the team reads when its runs failed the efficiency gate."""
    if report.efficiency is None:
        return "the runs failed the phase's efficiency gate (too slow against one retraining)"
    return report.efficiency.verdict()
