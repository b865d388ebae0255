"""The runner interface: run a submission's unlearning() once per seed, return weights.

Two implementations share it: `local.LocalRunner` (in process, for the dry-run on a laptop
and for tests) and `docker.DockerRunner` (a locked-down container, for anything untrusted).
The worker and `unlearn dry-run --sandbox docker` call the same interface, so both give the
same weights for the same seeds.

A runner returns raw weights only. Nothing it reports is trusted beyond those weights: the
caller validates them against the original architecture (`harness.checkpoint`) and computes
every metric itself.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harness.errors import SubmissionError
from harness.models import ModelSpec

__all__ = ["Job", "RunOutcome", "Runner", "SeedProgress"]

SeedProgress = Callable[[int], None]
"""Called with a seed once its run has finished (for progress bars)."""


@dataclass(frozen=True)
class Job:
    """One batch of unlearning runs: the same submission and original model, several seeds.

    Only what the submission may see is here: retain, forget and validation tensors. The
    test split and every reference output stay with the caller.
    """

    submission: Path  # a .py file, or a folder holding submission.py and helpers
    spec: ModelSpec
    original: dict[str, torch.Tensor]
    retain: tuple[torch.Tensor, torch.Tensor]
    forget: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    seeds: Sequence[int]
    batch_size: int = 64
    threads: int = 1  # torch intra-op threads: fixed so results match across runners
    device: str = "cpu"
    time_limit_s: float | None = None  # per run; enforced from outside by the runner
    interface: str = "tuple"  # batch shape (harness.runs.interfaces)
    # Per split (retain, forget, val): examples' indices in the data set, and group ids.
    ids: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    groups: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None


@dataclass
class RunOutcome:
    """What one seed produced: weights and wall time, or the error to show its author."""

    seed: int
    state: dict[str, torch.Tensor] | None
    seconds: float
    error: SubmissionError | None = None
    log_excerpt: str = field(default="")

    @property
    def ok(self) -> bool:
        return self.error is None and self.state is not None


class Runner(abc.ABC):
    """Runs `Job`s. Implementations must never let submission code touch the caller."""

    name: str = "abstract"

    @abc.abstractmethod
    def run(self, job: Job, *, on_seed_done: SeedProgress | None = None) -> list[RunOutcome]:
        """Run every seed of `job`; return one outcome per seed, in the order of job.seeds."""

    def prestart(self, *, threads: int = 1, device: str = "cpu") -> None:  # noqa: B027
        """Get ready for the next run() while the caller does other work (optional)."""

    def close(self) -> None:  # noqa: B027
        """Release whatever prestart() holds (optional)."""

    def describe(self) -> dict[str, str]:
        """Facts to record with an evaluation (runner name, image digest, runtime...)."""
        return {"runner": self.name}
