"""The production evaluation backend: the harness's own steps, one shard at a time.

The same functions as `unlearn dry-run` (`harness.pipeline`): `prepare_phase` (data, splits,
original, reference: loaded from the cache the provision task published), `run_seeds` in
the sandbox (`DockerRunner` with this worker's GPU, or `LocalRunner` when
`UNLEARN_SANDBOX=local`), `validated_states` + `evaluate_weights` on the trusted side,
`score`, and `harness.report.build.build_report` for each split's report. Because every
seed's run depends on the seed alone, scoring the concatenated shards gives the dry-run's
numbers for the same submission and seeds.

Who pays for a failure: anything wrong with what the submission left (its weights, their
logits, the files the runner writes) arrives here as a `SubmissionError` and is charged; so
is a run stopped at its per-seed time limit, which follows from the phase and always ends
the container before the shard task's own time limit. Docker's own failures are
`InfraRetry` and a phase that could reach the task's limit is a `ConfigError`: both ours.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np

from competition.artifacts import ArtifactStore
from competition.run_logs import PER_SEED_CHARS, tail
from competition.settings import PipelineSettings
from harness.errors import ConfigError
from harness.evaluate import Evaluation
from harness.phase import SplitName
from harness.pipeline import evaluate_weights, prepare_phase, run_originals, run_seeds, score
from harness.reference.cache import Prepared
from harness.report.build import build_report
from harness.report.plots import write_plots
from harness.report.record import Record
from harness.report.schema import EvaluationReport, Provenance
from harness.runs.execute import efficiency_gate, seed_time_limit, validated_states
from harness.runs.sandbox.base import Runner, RunOutcome
from harness.scoring.racing import round_score
from worker.backend import PhaseInfo, Scored, ShardArrays
from worker.phases import pull_cache, push_cache
from worker.record import scored_record

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
            ("cuda" if gpu else "cpu") if settings.sandbox.kind == "docker" else self.device
        )
        self._prepared: dict[tuple[str, str], Prepared] = {}
        self._runner: Runner | None = None

    def prepared(
        self,
        phase: PhaseInfo,
        split: str,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Prepared:
        config = phase.config
        key = (config.content_hash(), split)
        if key not in self._prepared:
            pulled = pull_cache(self.store, self.cache_dir)
            logger.info("phase %d %s: %d cache files pulled", phase.id, split, pulled)
            self._prepared[key] = prepare_phase(
                config,
                split=cast(SplitName, split),
                cache_dir=self.cache_dir,
                device=self.device,
                progress=progress,
                secret=True,
            )
        return self._prepared[key]

    def prepare(
        self,
        *,
        phase: PhaseInfo,
        split: str,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> float | None:
        prepared = self.prepared(phase, split, progress)
        pushed = push_cache(self.store, self.cache_dir)
        logger.info("phase %d %s prepared; %d cache files published", phase.id, split, pushed)
        return prepared.reference.retrain_seconds

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            if self.settings.sandbox.kind == "local":
                from harness.runs.sandbox.local import LocalRunner

                self._runner = LocalRunner(capture_output=True)  # the team's logs
            else:
                from harness.runs.sandbox.docker import DockerRunner
                from harness.runs.sandbox.selfcheck import choose_runtime

                gpu = self.settings.worker_gpu or None
                # gVisor wherever dockerd has it; runc in production only when named.
                sandbox = choose_runtime(
                    self.settings.sandbox.settings_for(gpu=gpu),
                    runc_allowed=self.settings.environment != "production",
                )
                self._runner = DockerRunner(sandbox)
        return self._runner

    def _run(
        self,
        submission_dir: Path,
        prepared: Prepared,
        seeds: Sequence[int],
        on_seed_done: Callable[[int], None] | None = None,
    ) -> list[RunOutcome]:
        """The seeds in the sandbox, once the shard is sure to end before its task does."""
        limit = seed_time_limit(
            retrain_seconds=prepared.reference.retrain_seconds,
            max_run_fraction=prepared.phase.max_run_fraction,
            floor_s=self.settings.seed_time_floor_s,
        )
        bound = getattr(self.runner, "max_container_seconds", None)
        soft = self.settings.shard_soft_time_limit_s
        if bound is not None and bound(seeds=len(seeds), per_seed_s=limit) >= soft:
            needed = bound(seeds=len(seeds), per_seed_s=limit)
            raise ConfigError(
                f"a shard of {len(seeds)} seeds at {limit:.0f} s per seed may hold its "
                f"container {needed:.0f} s, past the task's soft limit of {soft:.0f} s: raise "
                f"UNLEARN_SHARD_TIME_LIMIT_S above {needed + 60:.0f} or lower UNLEARN_SHARD_SIZE"
            )
        return run_seeds(
            self.runner,
            submission_dir,
            prepared,
            seeds=seeds,
            device=self.run_device,
            time_floor_s=self.settings.seed_time_floor_s,
            progress=_seed_progress(on_seed_done),
        )

    def sanity_check(self, *, phase: PhaseInfo, submission_dir: Path) -> None:
        self.runner.prestart(device=self.run_device)  # starts while the phase is prepared
        prepared = self.prepared(phase, "public")
        outcomes = self._run(submission_dir, prepared, [SANITY_SEED])
        validated_states(outcomes, prepared.reference.original)

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
        self.runner.prestart(device=self.run_device)  # starts while the phase is prepared
        prepared = self.prepared(phase, split)
        outcomes = self._run(submission_dir, prepared, seeds, on_seed_done)
        states = validated_states(outcomes, prepared.reference.original)
        evaluation = evaluate_weights(
            prepared, states, device=self.device, seeds=[o.seed for o in outcomes]
        )
        return ShardArrays(
            seeds=np.asarray([o.seed for o in outcomes], dtype=np.int64),
            seconds=np.asarray([o.seconds for o in outcomes], dtype=np.float64),
            logs=np.asarray([tail(o.log_excerpt, PER_SEED_CHARS) for o in outcomes], dtype=np.str_),
            **evaluation.to_arrays(),
        )

    def score_round(
        self,
        *,
        phase: PhaseInfo,
        runs: ShardArrays,
        confidence: float,
        predict: bool = False,
        split: str = "public",
    ) -> dict[str, float]:
        prepared = self.prepared(phase, cast(SplitName, split))
        reference = prepared.reference.evaluation
        return round_score(
            n=len(runs.seeds),
            unlearned_confs=runs.forget_confs,
            retrained_confs=reference.forget_confs,
            unlearned_retain_acc=runs.retain_acc,
            retrained_retain_acc=reference.retain_acc,
            unlearned_test_acc=runs.test_acc,
            retrained_test_acc=reference.test_acc,
            estimator=phase.config.estimator,
            confidence=confidence,
            predict=predict,
            originals=run_originals(prepared, runs.seeds),
        ).to_dict()

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        reports: dict[str, EvaluationReport] = {}
        plots: dict[str, bytes] = {}
        records: dict[str, Record] = {}
        for split, arrays in runs.items():
            prepared = self.prepared(phase, split)
            unlearned = Evaluation.from_arrays(arrays.evaluation_arrays)
            compared = _first(prepared, unlearned.n_models)
            result = score(
                compared, unlearned, estimator=phase.config.estimator, seeds=arrays.seeds
            )
            record = scored_record(
                compared,
                arrays=arrays,
                unlearned=unlearned,
                result=result,
                runner=lambda: self.runner,
            )
            if record is not None:
                records[split] = record
            gate = efficiency_gate(
                arrays.seconds,
                retrain_seconds=prepared.reference.retrain_seconds,
                max_run_fraction=prepared.phase.max_run_fraction,
            )
            # No phase settings in the provenance: they hold the leaderboard splits' seeds.
            reports[split] = build_report(
                prepared=compared,
                unlearned=unlearned,
                result=result,
                efficiency=gate,
                seeds=arrays.seeds,
                provenance=Provenance(device=self.device),
            )
            if split == "public":  # the private split's plots would reveal its forget set
                plots.update(_plots(result.epsilons, unlearned, prepared))
        return Scored(reports=reports, plots=plots, records=records)


def _first(prepared: Prepared, n: int) -> Prepared:
    """The phase with the reference cut to its first n models (a racing stop at n < N):
    runs and reference models are compared at equal numbers, seed for seed."""
    reference = prepared.reference
    if n == reference.evaluation.n_models:
        return prepared
    evaluation = Evaluation.from_arrays(
        {name: values[:n] for name, values in reference.evaluation.to_arrays().items()}
    )
    # Its own cache folder: the noise floor cached there is that of the first n models.
    cut = replace(reference, evaluation=evaluation, directory=reference.directory / f"first-{n}")
    return replace(prepared, reference=cut)


def _plots(epsilons: np.ndarray, unlearned: Evaluation, prepared: Prepared) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="unlearn-plots-") as tmp:
        paths = write_plots(
            Path(tmp),
            epsilons=epsilons,
            unlearned=unlearned,
            retrained=prepared.reference.evaluation,
        )
        return {path.stem: path.read_bytes() for path in paths}


def _seed_progress(on_seed_done: Callable[[int], None] | None) -> Callable[[str, int, int], None]:
    """The pipeline's progress callback, reporting runs done to the worker (for the pages)."""

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "runs" and on_seed_done is not None and done:
            on_seed_done(done)

    return progress
