"""Run a submission N times through a Runner, check the weights, apply the efficiency gate.

    build_job(...)                        -> Job (what the submission may see, nothing more)
    run_submission(runner, job)           -> [RunOutcome]      one per seed
    validated_states(outcomes, original)  -> [state dict]      or raises the first failure
    seed_time_limit(retrain_seconds=, max_run_fraction=) -> seconds one seed may run
    efficiency_gate(seconds, ...)         -> Efficiency    (the gate's one implementation)

Nothing a runner reports is trusted except the weights, and those are checked here against
the original architecture (names, shapes, dtypes, finiteness) before any metric is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.checkpoint import validate_state
from harness.data import Splits
from harness.errors import BadOutput, SubmissionError
from harness.models import ModelSpec
from harness.runs.sandbox.base import Job, Runner, RunOutcome, SeedProgress

__all__ = [
    "Efficiency",
    "build_job",
    "efficiency_gate",
    "failure_details",
    "run_submission",
    "seed_time_limit",
    "validated_states",
]


def build_job(
    submission: Path,
    *,
    spec: ModelSpec,
    original: dict[str, torch.Tensor],
    splits: Splits,
    seeds: Sequence[int],
    batch_size: int = 64,
    threads: int = 1,
    device: str = "cpu",
    time_limit_s: float | None = None,
    interface: str = "tuple",
) -> Job:
    """A Job with retain, forget and validation tensors only: the test split stays here."""
    parts = ("retain", "forget", "val")
    ids = tuple(torch.from_numpy(getattr(splits, part).copy()) for part in parts)
    groups = None
    if splits.data.groups is not None:
        groups = tuple(
            torch.from_numpy(splits.data.groups[getattr(splits, part)].copy()) for part in parts
        )
    return Job(
        submission=Path(submission),
        spec=spec,
        original=original,
        retain=splits.tensors("retain"),
        forget=splits.tensors("forget"),
        val=splits.tensors("val"),
        seeds=list(seeds),
        batch_size=batch_size,
        threads=threads,
        device=device,
        time_limit_s=time_limit_s,
        interface=interface,
        ids=ids,  # type: ignore[arg-type]
        groups=groups,  # type: ignore[arg-type]
    )


def run_submission(
    runner: Runner, job: Job, *, on_seed_done: SeedProgress | None = None
) -> list[RunOutcome]:
    outcomes = runner.run(job, on_seed_done=on_seed_done)
    if [o.seed for o in outcomes] != list(job.seeds):
        raise RuntimeError(f"runner {runner.name} returned outcomes for other seeds than asked")
    return outcomes


def validated_states(
    outcomes: Sequence[RunOutcome], original: dict[str, torch.Tensor]
) -> list[dict[str, torch.Tensor]]:
    """The weights of every run, checked; raise the first run's error if any run failed."""
    states = []
    for outcome in outcomes:
        if outcome.error is not None:
            if outcome.log_excerpt:  # what the run printed, then its traceback: both for its author
                outcome.error.log_excerpt = outcome.log_excerpt
            raise outcome.error
        if outcome.state is None:
            raise BadOutput(f"run with seed {outcome.seed} left no weights")
        try:
            validate_state(outcome.state, original)
        except BadOutput as error:
            raise BadOutput(f"run with seed {outcome.seed}: {error.message}") from None
        states.append(outcome.state)
    return states


# The per-seed time limit follows from the gate: a run may take this many times the gate's
# allowance before it is stopped (it fails the gate long before), but never less than the
# floor, so that fast phases leave room for start-up noise.
TIME_LIMIT_MULTIPLE = 3.0
TIME_LIMIT_FLOOR_S = 60.0


def seed_time_limit(
    *, retrain_seconds: float, max_run_fraction: float, floor_s: float = TIME_LIMIT_FLOOR_S
) -> float:
    """Seconds one seed may run before the sandbox stops it (reported as a timeout)."""
    return max(floor_s, TIME_LIMIT_MULTIPLE * max_run_fraction * retrain_seconds)


@dataclass(frozen=True)
class Efficiency:
    """Run times against one retraining. The gate uses the median run (robust to a stray
    slow run on a busy machine); mean and max are reported too. The run times are the
    runner's (`RunOutcome.seconds`): under the Docker sandbox, measured outside the
    container (`harness.runs.sandbox.outputs.outside_seconds`). The report carries these
    numbers and words the verdict (`harness.report.schema.Gate`)."""

    runs: int
    run_seconds_median: float
    run_seconds_mean: float
    run_seconds_max: float
    retrain_seconds: float
    fraction: float  # median run / retraining
    max_fraction: float  # the gate's limit, the phase's max_run_fraction (a report key)
    passed: bool


def efficiency_gate(
    seconds: Sequence[float] | Sequence[RunOutcome] | np.ndarray,
    *,
    retrain_seconds: float,
    max_run_fraction: float,
) -> Efficiency:
    """The efficiency gate, the only implementation: the dry-run, the worker's scoring and
    the pipeline tests' fake backend all call it. `seconds`: per-seed run times, or the
    outcomes that carry them; `max_run_fraction`: the phase's limit on the median run over
    one retraining."""
    values = [o.seconds if isinstance(o, RunOutcome) else float(o) for o in seconds]
    times = np.asarray(values, dtype=np.float64)
    median = float(np.median(times))
    fraction = median / retrain_seconds if retrain_seconds > 0 else float("inf")
    return Efficiency(
        runs=len(times),
        run_seconds_median=median,
        run_seconds_mean=float(times.mean()),
        run_seconds_max=float(times.max()),
        retrain_seconds=retrain_seconds,
        fraction=fraction,
        max_fraction=max_run_fraction,
        passed=fraction <= max_run_fraction,
    )


def failure_details(error: SubmissionError) -> dict[str, str]:
    """What to show the submission's author about a failed run."""
    return {"category": error.category, "message": error.message, "log": error.log_excerpt}
