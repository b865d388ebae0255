"""What a shard computes and how it travels: `EvaluationBackend` and `ShardArrays`.

The Celery tasks only move ids, leases and small arrays; the evaluation itself (sandbox run,
trusted evaluation of the weights, scoring) is behind this interface, so the same tasks run
the real harness (`worker.harness_backend.HarnessBackend`) or, in the pipeline's own fault
tests, a fake whose only job is to take a known time.

`ShardArrays` is the compact output of one shard, never weights: per seed the forget-set
logits and logit-scaled confidences, retain/forget/test accuracy (the arrays of
`harness.evaluate.Evaluation`) and the run's wall time. About 1 KB per seed and forget
example; stored as an `.npz` in the artifact store under
`evaluations/<submission>/attempt-<n>/shard-<k>.npz`. A shard covers one split (`public` or
`private`: each has its own forget set, so its own runs).
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

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
    """The phase settings an evaluation needs, copied from the server's `Phase` row."""

    id: int
    dataset: str
    model: str
    replicas: int
    estimator: str
    split_spec: dict[str, Any]
    recipe: dict[str, Any]
    efficiency_gate: float


@dataclass
class ShardArrays:
    seeds: np.ndarray  # (n_seeds,) int64
    seconds: np.ndarray  # (n_seeds,) float64, wall time of each unlearning run
    forget_logits: np.ndarray  # (n_seeds, n_forget, n_classes) float32
    forget_confs: np.ndarray  # (n_seeds, n_forget) float64
    retain_acc: np.ndarray  # (n_seeds,) float64
    forget_acc: np.ndarray  # (n_seeds,) float64
    test_acc: np.ndarray  # (n_seeds,) float64

    @property
    def evaluation_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of `harness.evaluate.Evaluation`, for `Evaluation.from_arrays`."""
        skip = ("seeds", "seconds")
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **self.__dict__)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShardArrays:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(**{name: arrays[name] for name in cls.__dataclass_fields__})

    @classmethod
    def concatenate(cls, parts: Sequence[ShardArrays]) -> ShardArrays:
        """All shards in seed order, as if one shard had run every seed."""
        ordered = sorted(parts, key=lambda part: int(part.seeds[0]))
        return cls(
            **{
                name: np.concatenate([getattr(part, name) for part in ordered])
                for name in cls.__dataclass_fields__
            }
        )


@dataclass
class Scored:
    """Scoring output: one report per split (`public`, `private`) and named PNG plots."""

    reports: dict[str, dict[str, Any]]
    plots: dict[str, bytes]


class EvaluationBackend(Protocol):
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
    ) -> ShardArrays:
        """Run the submission once per seed in the sandbox and evaluate the weights outside."""

    def score(self, *, phase: PhaseInfo, runs: dict[str, ShardArrays]) -> Scored:
        """Given every run of each split: reports per split, plus plots."""


def load_backend(dotted: str, **kwargs: Any) -> EvaluationBackend:
    """Build the backend named `module:attribute`, passing `kwargs` (settings, store)."""
    module_name, _, attribute = dotted.partition(":")
    if not attribute:
        raise ValueError(f"evaluation backend {dotted!r} must look like 'package.module:Name'")
    factory = getattr(importlib.import_module(module_name), attribute)
    backend: EvaluationBackend = factory(**kwargs)
    return backend
