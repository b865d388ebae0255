"""Orchestration of one evaluation: prepare the phase, run the seeds, evaluate, score.

Each step is a function of its own, taking plain values, so the worker can run them shard
by shard in separate tasks:

    prepare_phase(phase, split=..., cache_dir=...)     -> Prepared (splits, spec, reference)
    run_seeds(runner, submission, prepared, seeds=...)  -> [RunOutcome]
    evaluate_weights(prepared, states)                  -> Evaluation
    score(prepared, unlearned, estimator=...)           -> ScoreReport
    dry_run(submission, phase, ...)                     -> EvaluationReport (all of the above)

Progress goes to an optional `(stage, done, total)` callback; nothing here prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from harness.data import load_dataset, make_splits
from harness.data.splits import check_data_secrecy
from harness.evaluate import Evaluation, evaluate_states, score_evaluations
from harness.phase import PhaseConfig, SplitName
from harness.reference.cache import (
    Prepared,
    cached_noise_floor,
    model_spec_for,
    prepare_reference,
)
from harness.reference.originals import original_index
from harness.report.build import build_report, dry_run_provenance
from harness.report.schema import EvaluationReport
from harness.runs.execute import (
    TIME_LIMIT_FLOOR_S,
    build_job,
    efficiency_gate,
    run_submission,
    seed_time_limit,
    validated_states,
)
from harness.runs.sandbox.base import Runner, RunOutcome
from harness.scoring import ScoreReport
from harness.scoring.submission import bootstrap_processes

__all__ = [
    "Progress",
    "dry_run",
    "evaluate_weights",
    "prepare_phase",
    "run_originals",
    "run_seeds",
    "score",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""(stage, done, total). Stages: data, original, retrain-timing, reference, reference-eval,
runs, evaluate, score, bootstrap, report."""


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def prepare_phase(
    phase: PhaseConfig,
    *,
    split: SplitName = "public",
    cache_dir: Path,
    device: str = "cpu",
    run_threads: int = 1,
    progress: Progress | None = None,
    secret: bool = False,
) -> Prepared:
    """Load data, cut the splits, and load or build the original and the reference.

    `secret` (a server's phase): refuse, before training, a private forget set too easy to
    guess (`harness.data.splits.check_data_secrecy`); local dry-runs hide nothing.
    """
    report = progress or _quiet
    report("data", 0, 1)
    data = load_dataset(phase.dataset, cache_dir=Path(cache_dir))
    if secret:
        check_data_secrecy(data, phase.split)
    splits = make_splits(data, phase.split, split)
    report("data", 1, 1)
    reference = prepare_reference(
        phase, splits, cache_dir=cache_dir, device=device, run_threads=run_threads, progress=report
    )
    return Prepared(phase, splits, model_spec_for(phase, data), reference)


def run_seeds(
    runner: Runner,
    submission: Path,
    prepared: Prepared,
    *,
    seeds: Sequence[int],
    device: str = "cpu",
    threads: int = 1,
    progress: Progress | None = None,
    time_floor_s: float = TIME_LIMIT_FLOOR_S,
) -> list[RunOutcome]:
    """Run the submission once per seed from its original's weights (seed mod K, one job per
    original); outcomes in seed order.

    Each seed may run `seed_time_limit` seconds (from the phase's gate and retrain time, at
    least `time_floor_s`); the sandbox stops it there and reports a timeout.
    """
    report = progress or _quiet
    time_limit_s = seed_time_limit(
        retrain_seconds=prepared.reference.retrain_seconds,
        max_run_fraction=prepared.phase.max_run_fraction,
        floor_s=time_floor_s,
    )
    # One job per original the seeds start from (run i: original i mod K); K = 1 is one job.
    groups: dict[int, list[int]] = {}
    for seed in seeds:
        groups.setdefault(original_index(seed, len(prepared.reference.originals)), []).append(seed)
    done = 0

    def seed_done(_: int) -> None:
        nonlocal done
        done += 1
        report("runs", done, len(seeds))

    report("runs", 0, len(seeds))
    outcomes: dict[int, RunOutcome] = {}
    for group in groups.values():
        job = build_job(
            submission,
            spec=prepared.spec,
            original=prepared.reference.original_for(group[0]),
            splits=prepared.splits,
            seeds=group,
            batch_size=prepared.phase.run_batch_size,
            threads=threads,
            device=device,
            time_limit_s=time_limit_s,
            interface=prepared.phase.interface,
        )
        outcomes.update((o.seed, o) for o in run_submission(runner, job, on_seed_done=seed_done))
    return [outcomes[seed] for seed in seeds]


def evaluate_weights(
    prepared: Prepared,
    states: Sequence[dict[str, torch.Tensor]],
    *,
    device: str = "cpu",
    progress: Progress | None = None,
    seeds: Sequence[int] | None = None,
) -> Evaluation:
    """Metrics of the validated `states` (named by `seeds` in errors); BadOutput when a
    submission's weights cannot be evaluated (non-finite logits, a model error)."""
    report = progress or _quiet
    return evaluate_states(
        prepared.spec,
        states,
        prepared.splits,
        device=device,
        progress=lambda done, total: report("evaluate", done, total),
        seeds=seeds,
    )


def score(
    prepared: Prepared,
    unlearned: Evaluation,
    *,
    estimator: str,
    seed: int = 0,
    processes: int = 1,
    progress: Progress | None = None,
    seeds: Sequence[int] | np.ndarray | None = None,
) -> ScoreReport:
    """Score unlearned against the reference, with the estimator's noise floor attached.

    `processes` > 1 spreads the bootstrap over that many worker processes: same numbers.
    `seeds`: each unlearned row's run seed; under K > 1 originals the bootstrap resamples
    the originals they started from (seed mod K) as well as the runs.
    """
    report = progress or _quiet
    report("score", 0, 2)
    floor = cached_noise_floor(prepared.reference, estimator=estimator, seed=seed)
    report("score", 1, 2)
    reference = prepared.reference.evaluation
    result = score_evaluations(
        unlearned,
        reference,
        estimator=estimator,
        seed=seed,
        noise_floor=floor,
        processes=processes,
        on_replicate=lambda done, total: report("bootstrap", done, total),
        originals=run_originals(prepared, seeds),
    )
    report("score", 2, 2)
    return result


def run_originals(
    prepared: Prepared, seeds: Sequence[int] | np.ndarray | None
) -> np.ndarray | None:
    """The original each run started from (seed mod K), for the bootstrap; None for K = 1
    or when the seeds are not known."""
    count = len(prepared.reference.originals)
    if seeds is None or count <= 1:
        return None
    return np.asarray([original_index(seed, count) for seed in seeds], dtype=np.int64)


def dry_run(
    submission: Path,
    phase: PhaseConfig,
    *,
    runner: Runner,
    cache_dir: Path,
    split: SplitName = "public",
    device: str = "cpu",
    threads: int = 1,
    progress: Progress | None = None,
    on_runs: Callable[[Prepared, list[RunOutcome]], None] | None = None,
) -> tuple[EvaluationReport, Prepared, Evaluation, ScoreReport]:
    """Evaluate `submission` end to end; raises SubmissionError when a run fails.

    `on_runs(prepared, outcomes)` sees every run's outcome, failed ones included, before
    they are checked (the evaluation's record lists them)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    runner.prestart(threads=threads, device=device)  # a container starts while we prepare
    try:
        prepared = prepare_phase(
            phase,
            split=split,
            cache_dir=cache_dir,
            device=device,
            run_threads=threads,
            progress=progress,
        )
        lap("prepare")
        outcomes = run_seeds(
            runner,
            submission,
            prepared,
            seeds=range(phase.replicas),
            device=device,
            threads=threads,
            progress=progress,
        )
        lap("runs")
    finally:
        runner.close()  # a standby left unused when preparing failed
    if on_runs is not None:
        on_runs(prepared, outcomes)
    states = validated_states(outcomes, prepared.reference.original)
    efficiency = efficiency_gate(
        outcomes,
        retrain_seconds=prepared.reference.retrain_seconds,
        max_run_fraction=phase.max_run_fraction,
    )
    unlearned = evaluate_weights(
        prepared, states, device=device, progress=progress, seeds=[o.seed for o in outcomes]
    )
    lap("evaluate")
    result = score(
        prepared,
        unlearned,
        estimator=phase.estimator,
        processes=bootstrap_processes(),
        progress=progress,
        seeds=[o.seed for o in outcomes],
    )
    lap("score")
    report_progress = progress or _quiet
    report_progress("report", 0, 1)
    report = build_report(
        prepared=prepared, unlearned=unlearned, result=result, efficiency=efficiency
    )
    lap("report")  # the attacks beside the score, mostly
    report = report.model_copy(
        update={
            "provenance": dry_run_provenance(
                submission=submission,
                prepared=prepared,
                runner=runner,
                device=device,
                timings=timings,
            )
        }
    )
    report_progress("report", 1, 1)
    return report, prepared, unlearned, result
