"""The phase schema: one pydantic model, built from the registries, validated where a phase enters.

    PhaseSchema.model_validate(raw).to_config()   -> PhaseConfig   (a phase file, the CLI)
    server_phase(dataset=..., model=..., ...)     -> PhaseConfig   (the server's phase row)
    read_phase_file(path)                         -> PhaseConfig   (phase.toml or .json)
    explain(ValidationError)                      -> "field: what is wrong (choices)"
    check_server_secrecy(config)                  ConfigError: a private split too easy to guess

The choices come from the registries themselves: data sets (`harness.data.loaders.LOADERS`),
models (`harness.models.MODELS`), recipe presets (`harness.phase.RECIPES`), estimators
(`harness.scoring.estimators.ESTIMATORS`) and interfaces (`harness.runs.interfaces.INTERFACES`),
so registering one makes it valid everywhere. A bad field is refused naming the field and the
choices: a 422 at the API (`api/schemas.py` calls `server_phase`), a configuration error in
`unlearn dry-run`. Replicas below the estimator's minimum are refused here, before training.
A phase created on the server must also keep its private forget set secret
(`check_server_secrecy`, `harness.data.splits.MIN_PRIVATE_BITS`): judged here from what is
known without the data (a built-in set's classes), and again with the data when a worker
prepares the phase (`harness.pipeline.prepare_phase(secret=True)`).

A phase file (TOML) holds PhaseConfig's fields:

    model = "resnet18-small"
    replicas = 16
    estimator = "calibrated"
    interface = "kaggle2023"
    recipe = "competition"            # a preset, or a table of TrainRecipe fields
    [dataset]
    kind = "digits"
    [split]
    forget_mode = "random"
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.data.loaders import BUILT_IN_CLASSES, LOADERS
from harness.data.splits import check_private_secrecy
from harness.errors import ConfigError
from harness.models import MODELS
from harness.phase import RECIPES, DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe
from harness.runs.interfaces import INTERFACES
from harness.scoring.estimators import ESTIMATORS

__all__ = [
    "PhaseSchema",
    "check_server_secrecy",
    "explain",
    "public_phase",
    "read_phase_file",
    "server_fields",
    "server_phase",
    "validate_phase",
]

# Literal types built from the registries: pydantic names the choices in its errors.
if TYPE_CHECKING:  # a type checker sees names; the registries are known only at run time
    DatasetKind = str
    ModelName = str
    PresetName = str
    EstimatorName = str
    InterfaceName = str
else:
    DatasetKind = Literal[tuple(LOADERS)]
    ModelName = Literal[tuple(MODELS)]
    PresetName = Literal[tuple(RECIPES)]
    EstimatorName = Literal[tuple(ESTIMATORS)]
    InterfaceName = Literal[tuple(INTERFACES)]
STRICT = ConfigDict(extra="forbid")


class DatasetSchema(BaseModel):
    model_config = STRICT
    kind: DatasetKind = "mnist1d"
    path: str | None = None


class SplitSchema(BaseModel):
    model_config = STRICT
    val_fraction: float = Field(default=0.1, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    forget_mode: Literal["random", "classes", "groups"] = "random"
    forget_fraction: float = Field(default=0.1, gt=0, lt=1)
    forget_count: int = Field(default=1, ge=1)
    data_seed: int = 0
    public_seed: int = 1
    private_seed: int = 2
    dev_seed: int = 3  # the published development split (the server makes the other two)


class RecipeSchema(BaseModel):
    """TrainRecipe's fields; `preset` starts from a registered recipe."""

    model_config = STRICT
    preset: PresetName = "cpu-default"
    epochs: int | None = Field(default=None, ge=1)
    optimizer: Literal["adam", "sgd"] | None = None
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    momentum: float | None = Field(default=None, ge=0)
    schedule: Literal["constant", "cosine"] | None = None
    batch_size: int | None = Field(default=None, ge=1)
    class_weighted: bool | None = None

    def to_recipe(self) -> TrainRecipe:
        changes = self.model_dump(exclude={"preset"}, exclude_none=True)
        base = RECIPES[self.preset]
        return TrainRecipe(**{**base.__dict__, **changes})


class PhaseSchema(BaseModel):
    """Everything a phase fixes (PhaseConfig), each field checked against its registry."""

    model_config = STRICT
    dataset: DatasetSchema = DatasetSchema()
    split: SplitSchema = SplitSchema()
    model: ModelName = "mlp"
    hidden: tuple[int, ...] = (256, 256)
    recipe: PresetName | RecipeSchema = "cpu-default"
    replicas: int = Field(default=64, ge=2, le=10_000)
    original_seed: int = 1_000_003
    originals: int = Field(default=1, ge=1, le=10_000)
    run_batch_size: int = Field(default=64, ge=1)
    max_run_fraction: float = Field(default=0.2, gt=0)
    estimator: EstimatorName = "neurips2023"
    interface: InterfaceName = "tuple"

    @model_validator(mode="after")
    def _enough_replicas(self) -> PhaseSchema:
        minimum = ESTIMATORS[self.estimator].min_models
        if self.replicas < minimum:
            raise ValueError(
                f"replicas: the {self.estimator!r} estimator needs at least {minimum} models "
                f"per side, got {self.replicas}"
            )
        return self

    def to_config(self) -> PhaseConfig:
        recipe = RECIPES[self.recipe] if isinstance(self.recipe, str) else self.recipe.to_recipe()
        return PhaseConfig(
            dataset=DatasetConfig(**self.dataset.model_dump()),
            split=SplitConfig(**self.split.model_dump()),
            model=self.model,
            hidden=self.hidden,
            recipe=recipe,
            replicas=self.replicas,
            original_seed=self.original_seed,
            originals=self.originals,
            run_batch_size=self.run_batch_size,
            max_run_fraction=self.max_run_fraction,
            estimator=self.estimator,
            interface=self.interface,
        )


def explain(error: ValidationError) -> str:
    """One line per bad field: `field: message`, as a participant or organizer reads it."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function"))
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def validate_phase(raw: dict[str, Any]) -> PhaseConfig:
    """A PhaseConfig from raw fields; ConfigError naming each bad field and its choices."""
    try:
        return PhaseSchema.model_validate(raw).to_config()
    except ValidationError as error:
        raise ConfigError(f"invalid phase: {explain(error)}") from None


def check_server_secrecy(config: PhaseConfig) -> None:
    """ConfigError if `config`'s private forget set is too easy to guess, as far as that is
    known without loading the data: classes of a built-in set, or groups it lacks."""
    kind, mode = config.dataset.kind, config.split.forget_mode
    if kind not in BUILT_IN_CLASSES or mode == "random":
        return  # an own set is counted when a worker prepares it; random mode is ample
    if mode == "groups":
        raise ConfigError(
            f"split_spec: forget_mode 'groups' needs group ids, and the built-in {kind} has "
            "none: use forget_mode 'random' or an own data set with groups (dataset folder)"
        )
    check_private_secrecy(config.split, n_keys=BUILT_IN_CLASSES[kind])


# The server's phase row keeps a few phase-level fields inside `recipe` (historical layout).
PHASE_LEVEL_FIELDS = ("hidden", "run_batch_size", "original_seed", "originals")


def server_fields(
    *,
    dataset: str,
    model: str,
    replicas: int,
    estimator: str,
    split_spec: dict[str, Any],
    recipe: dict[str, Any],
    efficiency_gate: float,
    interface: str = "tuple",
) -> dict[str, Any]:
    """The phase-schema fields of a server phase row (`kind` or `kind:/path` as dataset)."""
    recipe = dict(recipe)
    extras = {name: recipe.pop(name) for name in PHASE_LEVEL_FIELDS if name in recipe}
    kind, _, path = dataset.partition(":")
    return {
        "dataset": {"kind": kind, "path": path or None},
        "split": dict(split_spec),
        "model": model,
        "recipe": recipe,
        "replicas": replicas,
        "estimator": estimator,
        "max_run_fraction": efficiency_gate,
        "interface": interface,
        **extras,
    }


SERVER_FIELDS = (
    "dataset",
    "model",
    "replicas",
    "estimator",
    "split_spec",
    "recipe",
    "efficiency_gate",
    "interface",
)


def public_phase(raw: dict[str, Any]) -> PhaseConfig:
    """The PhaseConfig of `GET /api/v1/phases/{id}`'s body (other fields are ignored)."""
    return server_phase(**{name: raw[name] for name in SERVER_FIELDS if name in raw})


def server_phase(**row: Any) -> PhaseConfig:
    """The PhaseConfig of a server phase row (see `server_fields`); ConfigError if invalid."""
    return validate_phase(server_fields(**row))


def read_phase_file(path: Path) -> PhaseConfig:
    """A phase file (TOML, or JSON such as `GET /api/v1/phases/{id}` saved) as a PhaseConfig."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the phase file {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}"
        ) from None
    try:
        return public_phase(raw) if "split_spec" in raw else validate_phase(raw)
    except (ConfigError, TypeError) as error:
        raise ConfigError(f"{path}: {error}") from None
