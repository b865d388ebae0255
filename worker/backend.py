"""What a shard computes and how it travels: `EvaluationBackend` and `ShardArrays`.

The Celery tasks only move ids, leases and small arrays; the evaluation itself (sandbox run,
trusted evaluation of the weights, scoring) is behind this interface, so the same tasks run
the real harness (`worker.harness_backend.HarnessBackend`) or, in the pipeline's own fault
tests, a fake whose only job is to take a known time.

`ShardArrays` is the compact output of one shard, never weights: per seed the forget-set
logits and logit-scaled confidences, retain/forget/test accuracy, the losses of at most S
test examples for the population attack beside the score, the margins of at most 256
retain examples for the secondary metrics (the arrays of
`harness.evaluate.Evaluation`) and the run's wall time. About 1 KB per seed and forget
example; stored as an `.npz` in the artifact store under
`evaluations/<submission>/attempt-<n>/shard-<k>.npz`. A shard covers one split (`public` or
`private`: each has its own forget set, so its own runs).
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.phase import PhaseConfig
from harness.report.schema import EvaluationReport

__all__ = [
    "EvaluationBackend",
    "PhaseInfo",
    "Scored",
    "ShardArrays",
    "load_backend",
    "shard_key",
]


def shard_key(submission_id: int, attempt: int, shard: int) -> str:
    return f"evaluations/{submission_id}/attempt-{attempt}/shard-{shard:03d}.npz"


@dataclass(frozen=True)
class PhaseInfo:
    """A server phase as an evaluation needs it (`worker.phases.phase_info` makes it).

    `config`: the phase's experiment (`competition.models.Phase.config`) with its hidden
    leaderboard seeds filled in.
    """

    id: int
    config: PhaseConfig


@dataclass
class ShardArrays:
    seeds: np.ndarray  # (n_seeds,) int64
    seconds: np.ndarray  # (n_seeds,) float64, wall time of each unlearning run
    forget_logits: np.ndarray  # (n_seeds, n_forget, n_classes) float32
    forget_confs: np.ndarray  # (n_seeds, n_forget) float64
    retain_acc: np.ndarray  # (n_seeds,) float64
    forget_acc: np.ndarray  # (n_seeds,) float64
    test_acc: np.ndarray  # (n_seeds,) float64
    # (n_seeds,) str: each run's stdout/stderr excerpt, read on the trusted side; may be empty
    logs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.str_))
    # (n_seeds, T) float32 test-set losses (`Evaluation.test_losses`); None in shards stored
    # before they were kept, whose reports then give the population attack as unavailable
    test_losses: np.ndarray | None = None
    # (n_seeds, R) float32 retain-sample margins (`Evaluation.retain_confs`); None in shards
    # stored before they were kept, whose reports then give KLoM on the retain set and the
    # retain-set drift as unavailable
    retain_confs: np.ndarray | None = None

    def _present(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @property
    def evaluation_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of `harness.evaluate.Evaluation`, for `Evaluation.from_arrays`."""
        skip = ("seeds", "seconds", "logs")
        return {k: v for k, v in self._present().items() if k not in skip}

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **self._present())  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShardArrays:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            # Shards stored before logs (or test losses, retain margins) lack those arrays.
            return cls(
                **{name: arrays[name] for name in cls.__dataclass_fields__ if name in arrays}
            )

    @classmethod
    def concatenate(cls, parts: Sequence[ShardArrays]) -> ShardArrays:
        """All shards in seed order, as if one shard had run every seed. An optional array
        only when every shard has it (shards of one attempt stored by different versions)."""
        ordered = sorted(parts, key=lambda part: int(part.seeds[0]))
        joined = {
            name: [getattr(part, name) for part in ordered] for name in cls.__dataclass_fields__
        }
        return cls(
            **{  # type: ignore[arg-type]  # None only for the optional arrays
                name: None if any(v is None for v in values) else np.concatenate(values)
                for name, values in joined.items()
            }
        )


@dataclass
class Scored:
    """Scoring output: one report per split (`public`, `private`;
    `harness.report.schema.EvaluationReport`) and named PNG plots;
    `records`: per split, the evaluation's unsigned record (`harness.report.record.Record`)
    when the backend makes one (the scoring task names the submission, signs and stores it)."""

    reports: dict[str, EvaluationReport]
    plots: dict[str, bytes]
    records: dict[str, Any] = field(default_factory=dict)


class EvaluationBackend(Protocol):
    def prepare(
        self,
        *,
        phase: PhaseInfo,
        split: str,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> float | None:
        """Train (or load) the split's original and reference models and publish them for
        every worker; returns one retraining's seconds. Raises when the phase cannot run:
        the message is what organizers are shown. `progress(stage, done, total)`."""

    def sanity_check(self, *, phase: PhaseInfo, submission_dir: Path) -> None:
        """One cheap run; raises `harness.errors.SubmissionError` when the submission fails."""

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
        """Run the submission once per seed in the sandbox and evaluate the weights outside.

        `on_seed_done(n)` is called with the number of this shard's runs finished so far."""

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        """Given the runs of each split (all N, or a racing round's first n): reports per
        split, plus plots."""

    def score_round(
        self,
        *,
        phase: PhaseInfo,
        runs: ShardArrays,
        confidence: float,
        predict: bool = False,
        split: str = "public",
    ) -> dict[str, float]:
        """Racing: a split's first n runs (n = len(runs.seeds)) against the reference's
        first n models: `RoundScore.to_dict()` at `confidence`; with `predict` (the rule
        ``predicted``), the full-N score predicted from them against all N."""


def load_backend(dotted: str, **kwargs: Any) -> EvaluationBackend:
    """Build the backend named `module:attribute`, passing `kwargs` (settings, store)."""
    module_name, _, attribute = dotted.partition(":")
    if not attribute:
        raise ValueError(f"evaluation backend {dotted!r} must look like 'package.module:Name'")
    factory = getattr(importlib.import_module(module_name), attribute)
    backend: EvaluationBackend = factory(**kwargs)
    return backend
