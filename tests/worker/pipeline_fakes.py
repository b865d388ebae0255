"""A fake evaluation backend for the pipeline's delivery tests: known timing, known numbers.

The delivery machinery (leases, attempts, redelivery, reconciliation) does not care what a
shard computes, only how long it takes and that it is deterministic. `SleepyBackend` takes
`UNLEARN_TEST_SECONDS_PER_SEED` per seed, appends one line per executed shard to
`<data_dir>/executions.log` (so tests count real executions, duplicates included), and
derives every number from the seeds, so any two runs of the same seeds agree. The sanity
check runs the real static check of the submission protocol.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.protocol import check_source
from worker.backend import PhaseInfo, Scored, ShardArrays

N_FORGET = 16
RETRAIN_SECONDS = 1.0  # the fake phase's retraining time, for the efficiency gate


class SleepyBackend:
    def __init__(self, *, settings: Any, store: Any) -> None:
        self.seconds_per_seed = float(os.environ.get("UNLEARN_TEST_SECONDS_PER_SEED", "0.05"))
        self.log = Path(settings.data_dir) / "executions.log"

    def sanity_check(self, *, phase: PhaseInfo, submission_dir: Path) -> None:
        check_source((submission_dir / "submission.py").read_text())

    def run_shard(
        self, *, phase: PhaseInfo, submission_dir: Path, split: str, seeds: Sequence[int], gpu: str
    ) -> ShardArrays:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as handle:
            handle.write(f"{os.getpid()} {split} {list(seeds)}\n")
        time.sleep(self.seconds_per_seed * len(seeds))
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
        )

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        reports = {}
        for split, arrays in runs.items():
            expected = np.arange(phase.replicas)
            if not np.array_equal(arrays.seeds, expected):
                raise AssertionError(f"{split} seeds {arrays.seeds.tolist()} != {expected}")
            value = float(np.mean(arrays.forget_confs))
            reports[split] = {
                "final_score": value,
                "final_score_ci": [value - 1, value + 1],
                "estimator": phase.estimator,
                "forget_quality": value,
                "run_seconds_median": self.seconds_per_seed,
                "retrain_seconds": RETRAIN_SECONDS,
                "run_fraction": self.seconds_per_seed / RETRAIN_SECONDS,
                "max_run_fraction": phase.efficiency_gate,
                "eligible": self.seconds_per_seed / RETRAIN_SECONDS <= phase.efficiency_gate,
            }
        return Scored(reports=reports, plots={"confidences": b"\x89PNG fake"})


def expected_score(replicas: int) -> float:
    return float(np.mean([np.random.default_rng(s).normal(size=N_FORGET) for s in range(replicas)]))
