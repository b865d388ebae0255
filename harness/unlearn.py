"""Run a submission N times through a Runner, check the weights, apply the efficiency gate.

    build_job(...)                        -> Job (what the submission may see, nothing more)
    run_submission(runner, job)           -> [RunOutcome]      one per seed
    validated_states(outcomes, original)  -> [state dict]      or raises the first failure
    efficiency_gate(outcomes, ...)        -> Efficiency

Nothing a runner reports is trusted except the weights, and those are checked here against
the original architecture (names, shapes, dtypes, finiteness) before any metric is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.checkpoint import validate_state
from harness.data import Splits
from harness.errors import BadOutput, SubmissionError
from harness.models import ModelSpec
from harness.sandbox.base import Job, Runner, RunOutcome, SeedProgress

__all__ = [
    "Efficiency",
    "build_job",
    "efficiency_gate",
    "failure_details",
    "run_submission",
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
) -> Job:
    """A Job with retain, forget and validation tensors only: the test split stays here."""
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
            raise outcome.error
        if outcome.state is None:
            raise BadOutput(f"run with seed {outcome.seed} left no weights")
        try:
            validate_state(outcome.state, original)
        except BadOutput as error:
            raise BadOutput(f"run with seed {outcome.seed}: {error.message}") from None
        states.append(outcome.state)
    return states


@dataclass(frozen=True)
class Efficiency:
    """Run times against one retraining. The gate uses the median run (robust to a stray
    slow run on a busy machine); mean and max are reported too."""

    run_seconds_median: float
    run_seconds_mean: float
    run_seconds_max: float
    retrain_seconds: float
    fraction: float  # median run / retraining
    max_fraction: float  # the gate's limit
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def efficiency_gate(
    outcomes: Sequence[RunOutcome], *, retrain_seconds: float, max_fraction: float
) -> Efficiency:
    seconds = np.array([o.seconds for o in outcomes], dtype=np.float64)
    median = float(np.median(seconds))
    fraction = median / retrain_seconds if retrain_seconds > 0 else float("inf")
    passed = fraction <= max_fraction
    verdict = "passes" if passed else "FAILS"
    message = (
        f"{verdict} the efficiency gate: a run takes {median:.2f} s (median of "
        f"{len(seconds)}), {100 * fraction:.0f}% of one retraining ({retrain_seconds:.2f} s); "
        f"the limit is {100 * max_fraction:.0f}%"
    )
    if not passed:
        message += "; a competition would reject this submission"
    return Efficiency(
        run_seconds_median=median,
        run_seconds_mean=float(seconds.mean()),
        run_seconds_max=float(seconds.max()),
        retrain_seconds=retrain_seconds,
        fraction=fraction,
        max_fraction=max_fraction,
        passed=passed,
        message=message,
    )


def failure_details(error: SubmissionError) -> dict[str, str]:
    """What to show the submission's author about a failed run."""
    return {"category": error.category, "message": error.message, "log": error.log_excerpt}
