"""A fake evaluation backend for the pipeline's delivery tests: known timing, known numbers.

The delivery machinery (leases, attempts, redelivery, reconciliation) does not care what a
shard computes, only how long it takes and that it is deterministic. `SleepyBackend` takes
`UNLEARN_TEST_SECONDS_PER_SEED` per seed, appends one line per executed shard to
`<data_dir>/executions.log` (so tests count real executions, duplicates included), and
derives every number from the seeds, so any two runs of the same seeds agree. The sanity
check runs the real static check of the submission protocol. `prepare` reports progress
and logs to `<data_dir>/preparations.log`, and fails for a phase on `cifar10:<folder>` (data
the workers do not have), as a real preparation would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.runs.protocol import check_source
from tests.report_factory import scored_report
from worker.backend import PhaseInfo, Scored, ShardArrays

N_FORGET = 16
RETRAIN_SECONDS = 1.0  # the fake phase's retraining time, for the efficiency gate
UNPREPARABLE = "cifar10:"  # a phase on this dataset fails to prepare ("no dataset at ...")


class SleepyBackend:
    def __init__(self, *, settings: Any, store: Any) -> None:
        self.seconds_per_seed = float(os.environ.get("UNLEARN_TEST_SECONDS_PER_SEED", "0.05"))
        self.log = Path(settings.data_dir) / "executions.log"

    def prepare(
        self,
        *,
        phase: PhaseInfo,
        split: str,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> float | None:
        dataset = phase.config.dataset
        if f"{dataset.kind}:" == UNPREPARABLE:  # data the workers do not have
            raise FileNotFoundError(f"no dataset at {dataset.path}")
        for done in range(phase.config.replicas + 1):
            if progress is not None:
                progress("reference", done, phase.config.replicas)
        with (Path(self.log.parent) / "preparations.log").open("a") as log:
            log.write(f"{phase.id} {split}\n")
        return RETRAIN_SECONDS

    def sanity_check(self, *, phase: PhaseInfo, submission_dir: Path) -> None:
        check_source((submission_dir / "submission.py").read_text())

    def run_shard(
        self,
        *,
        phase: PhaseInfo,
        submission_dir: Path,
        split: str,
        seeds: Sequence[int],
        gpu: str,
        on_seed_done: Callable[[int], None] | None = None,
    ) -> ShardArrays:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as handle:
            handle.write(f"{os.getpid()} {split} {list(seeds)}\n")
        for done in range(1, len(seeds) + 1):
            time.sleep(self.seconds_per_seed)
            if on_seed_done is not None:
                on_seed_done(done)
        confs = np.stack([np.random.default_rng(seed).normal(size=N_FORGET) for seed in seeds])
        n = len(seeds)
        return ShardArrays(
            seeds=np.asarray(seeds, dtype=np.int64),
            seconds=np.full(n, self.seconds_per_seed),
            forget_logits=np.zeros((n, N_FORGET, 2), dtype=np.float32),
            forget_confs=confs,
            retain_acc=np.full(n, 0.9),
            forget_acc=np.full(n, 0.5),
            test_acc=np.full(n, 0.8),
            logs=np.asarray([f"printed by {split} seed {seed}" for seed in seeds], dtype=np.str_),
        )

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        reports = {}
        for split, arrays in runs.items():
            expected = np.arange(len(arrays.seeds))  # all N, or a racing stop's first n
            if not np.array_equal(arrays.seeds, expected):
                raise AssertionError(f"{split} seeds {arrays.seeds.tolist()} != {expected}")
            value = float(np.mean(arrays.forget_confs))
            reports[split] = scored_report(
                value,
                half_width=1.0,
                estimator=phase.config.estimator,
                n_models=len(arrays.seeds),
                replicas=phase.config.replicas,
                run_seconds=float(np.median(arrays.seconds)),
                retrain_seconds=RETRAIN_SECONDS,
                max_fraction=phase.config.max_run_fraction,
            )
        return Scored(reports=reports, plots={"confidences": b"\x89PNG fake"})

    def score_round(
        self,
        *,
        phase: PhaseInfo,
        runs: ShardArrays,
        confidence: float,
        predict: bool = False,
        split: str = "public",
    ) -> dict[str, float]:
        """A racing round: the seeds' mean confidence, interval +- 1 / sqrt(n); predicted
        (rule ``predicted``): that mean minus 10, so a test can tell the two apart."""
        value, n = float(np.mean(runs.forget_confs)), len(runs.seeds)
        value -= 10.0 if predict and n < phase.config.replicas else 0.0
        return {"n": n, "score": value, "low": value - n**-0.5, "high": value + n**-0.5}


def expected_score(replicas: int) -> float:
    return float(np.mean([np.random.default_rng(s).normal(size=N_FORGET) for s in range(replicas)]))
