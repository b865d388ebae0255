"""The production evaluation backend: the harness's own steps, one shard at a time.

The same functions as `unlearn dry-run` (`harness.dryrun`): `prepare_phase` (data, splits,
original, reference: loaded from the cache the provision task published), `run_seeds` in
the sandbox (`DockerRunner` with this worker's GPU, or `LocalRunner` when
`UNLEARN_SANDBOX=local`), `validated_states` + `evaluate_weights` on the trusted side, and
`score`. Because every seed's run depends on the seed alone, scoring the concatenated shards
gives the dry-run's numbers for the same submission and seeds.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from harness.config import SplitName
from harness.dryrun import Prepared, evaluate_weights, prepare_phase, run_seeds, score
from harness.evaluate import Evaluation
from harness.plots import write_plots
from harness.sandbox.base import Runner
from harness.unlearn import validated_states
from worker.artifacts import ArtifactStore
from worker.backend import PhaseInfo, Scored, ShardArrays
from worker.config import PipelineSettings
from worker.phases import phase_config, pull_cache

logger = logging.getLogger(__name__)

__all__ = ["HarnessBackend"]

SANITY_SEED = 0


class HarnessBackend:
    def __init__(self, *, settings: PipelineSettings, store: ArtifactStore) -> None:
        self.settings = settings
        self.store = store
        self.cache_dir = Path(settings.data_dir) / "cache"
        gpu = settings.worker_gpu
        # Trusted evaluation runs on this worker's GPU; inside the sandbox it is the only one.
        self.device = (f"cuda:{gpu}" if gpu.isdigit() else "cuda") if gpu else "cpu"
        self.run_device = (
            ("cuda" if gpu else "cpu") if settings.sandbox == "docker" else self.device
        )
        self._prepared: dict[tuple[str, str], Prepared] = {}
        self._runner: Runner | None = None

    def prepared(self, phase: PhaseInfo, split: str) -> Prepared:
        config = phase_config(phase)
        key = (config.content_hash(), split)
        if key not in self._prepared:
            pulled = pull_cache(self.store, self.cache_dir)
            logger.info("phase %d %s: %d cache files pulled", phase.id, split, pulled)
            self._prepared[key] = prepare_phase(
                config,
                split=cast(SplitName, split),
                cache_dir=self.cache_dir,
                device=self.device,
            )
        return self._prepared[key]

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            if self.settings.sandbox == "local":
                from harness.sandbox.local import LocalRunner

                self._runner = LocalRunner()
            else:
                from harness.sandbox.docker import DockerRunner
                from harness.sandbox.docker_client import SandboxSettings

                self._runner = DockerRunner(SandboxSettings(gpu=self.settings.worker_gpu or None))
        return self._runner

    def sanity_check(self, *, phase: PhaseInfo, submission_dir: Path) -> None:
        self.runner.prestart(device=self.run_device)  # starts while the phase is prepared
        prepared = self.prepared(phase, "public")
        outcomes = run_seeds(
            self.runner, submission_dir, prepared, seeds=[SANITY_SEED], device=self.run_device
        )
        validated_states(outcomes, prepared.reference.original)

    def run_shard(
        self, *, phase: PhaseInfo, submission_dir: Path, split: str, seeds: Sequence[int], gpu: str
    ) -> ShardArrays:
        self.runner.prestart(device=self.run_device)  # starts while the phase is prepared
        prepared = self.prepared(phase, split)
        outcomes = run_seeds(
            self.runner, submission_dir, prepared, seeds=seeds, device=self.run_device
        )
        states = validated_states(outcomes, prepared.reference.original)
        evaluation = evaluate_weights(prepared, states, device=self.device)
        return ShardArrays(
            seeds=np.asarray([o.seed for o in outcomes], dtype=np.int64),
            seconds=np.asarray([o.seconds for o in outcomes], dtype=np.float64),
            **evaluation.to_arrays(),
        )

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        reports: dict[str, dict[str, Any]] = {}
        plots: dict[str, bytes] = {}
        for split, arrays in runs.items():
            prepared = self.prepared(phase, split)
            unlearned = Evaluation.from_arrays(arrays.evaluation_arrays)
            result = score(prepared, unlearned, estimator=prepared.phase.estimator)
            reports[split] = {**result.to_dict(), **_efficiency(prepared, arrays.seconds)}
            if split == "public":  # the private split's plots would reveal its forget set
                plots.update(_plots(result.epsilons, unlearned, prepared))
        return Scored(reports=reports, plots=plots)


def _efficiency(prepared: Prepared, seconds: np.ndarray) -> dict[str, Any]:
    """The efficiency gate's numbers: median run time against one retraining (reported)."""
    retrain = prepared.reference.retrain_seconds
    fraction = float(np.median(seconds)) / retrain if retrain > 0 else float("inf")
    return {
        "run_seconds_median": float(np.median(seconds)),
        "retrain_seconds": retrain,
        "run_fraction": fraction,
        "max_run_fraction": prepared.phase.max_run_fraction,
        "eligible": fraction <= prepared.phase.max_run_fraction,
    }


def _plots(epsilons: np.ndarray, unlearned: Evaluation, prepared: Prepared) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="unlearn-plots-") as tmp:
        paths = write_plots(
            Path(tmp),
            epsilons=epsilons,
            unlearned=unlearned,
            retrained=prepared.reference.evaluation,
        )
        return {path.stem: path.read_bytes() for path in paths}
