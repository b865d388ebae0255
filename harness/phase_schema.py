"""Where a phase enters: phase files, the server's phase rows, and errors as people read them.

    validate_phase(raw)                           -> PhaseConfig   (a phase file, the CLI)
    flat_phase(dataset=..., model=..., ...)       -> PhaseConfig   (the API's flat phase body)
    flat_fields(config)                           -> dict          (and back, the short way)
    public_phase(GET /api/v1/phases/{id} body)    -> PhaseConfig   (a saved body, old or new)
    read_phase_file(path)                         -> PhaseConfig   (phase.toml or .json)
    explain(ValidationError)                      -> "field: what is wrong (choices)"
    check_server_secrecy(config)                  ConfigError: a private split too easy to guess

The experiment itself, its defaults and its rules are one pydantic model, `harness.phase.
PhaseConfig`, which checks each name against its registry (data sets, models, interfaces in
`harness.registry`; estimators in `harness.scoring.estimators`; recipe presets in
`harness.phase.RECIPES`), so registering one makes it valid everywhere. A bad field is
refused naming the field and the choices: a 422 at the API (`api/schemas/phases.py` calls
`flat_phase`), a configuration error in `unlearn dry-run`. The server stores a phase's
experiment as one PhaseConfig (`competition.models.Phase.experiment`); the API's flat body
(`dataset` as `kind` or `kind:/path`, `split_spec`, `recipe` carrying the phase-level
`hidden`, `run_batch_size`, `original_seed`, `originals`) is a view of it, mapped here.
Replicas below the estimator's minimum are refused there, before training. A phase created
on the server must also keep its private forget set secret (`check_server_secrecy`,
`harness.data.secrecy.MIN_PRIVATE_BITS`): judged here from what is known without the data
(a built-in set's classes), and again with the data when a worker prepares the phase
(`harness.pipeline.prepare_phase(secret=True)`).
Nothing here loads torch: the API process imports this module.

A phase file (TOML) holds PhaseConfig's fields, optionally from a phase preset
(`harness.presets`: `preset = "competition-fast"`, the fields beside it winning):

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
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.data.secrecy import check_private_secrecy
from harness.errors import ConfigError
from harness.phase import DEFAULT_PRESET, RECIPES, PhaseConfig, TrainRecipe
from harness.presets import with_preset
from harness.registry import DATASETS

__all__ = [
    "FLAT_FIELDS",
    "LEADERBOARD_SEEDS",
    "check_server_secrecy",
    "explain",
    "flat_fields",
    "flat_phase",
    "public_phase",
    "read_phase_file",
    "validate_phase",
]


def explain(error: ValidationError) -> str:
    """One line per bad field: `field: message`, as a participant or organizer reads it."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function"))
        message = item["msg"].removeprefix("Value error, ")
        named = where and message.startswith(where.rsplit(".", 1)[-1])  # says its field
        lines.append(f"{where}: {message}" if where and not named else message)
    return "; ".join(lines)


def validate_phase(raw: dict[str, Any]) -> PhaseConfig:
    """A PhaseConfig from raw fields (a `preset` filled in beneath them); ConfigError
    naming each bad field and its choices."""
    try:
        return PhaseConfig.model_validate(with_preset(raw))
    except ValidationError as error:
        raise ConfigError(f"invalid phase: {explain(error)}") from None


def check_server_secrecy(config: PhaseConfig) -> None:
    """ConfigError if `config`'s private forget set is too easy to guess, as far as that is
    known without loading the data: classes of a built-in set, or groups it lacks."""
    kind, mode = config.dataset.kind, config.split.forget_mode
    classes = DATASETS[kind].classes
    if classes is None or mode == "random":
        return  # an own set is counted when a worker prepares it; random mode is ample
    if mode == "groups":
        raise ConfigError(
            f"split_spec: forget_mode 'groups' needs group ids, and the built-in {kind} has "
            "none: use forget_mode 'random' or an own data set with groups (dataset folder)"
        )
    check_private_secrecy(config.split, n_keys=classes)


# The API's flat phase body (`api.schemas.PhaseBase`, and bodies saved from it) keeps a few
# phase-level fields inside `recipe`, and the data set as `kind` or `kind:/path`.
PHASE_LEVEL_FIELDS = ("hidden", "run_batch_size", "original_seed", "originals")
FLAT_FIELDS = (
    "dataset",
    "model",
    "replicas",
    "estimator",
    "split_spec",
    "recipe",
    "max_run_fraction",
    "interface",
    "racing",
)
# Never in a flat body nor a stored experiment: the server makes them (`PhaseSecrets`).
LEADERBOARD_SEEDS = frozenset({"public_seed", "private_seed"})


def flat_phase(
    *,
    dataset: str,
    model: str,
    replicas: int,
    estimator: str,
    split_spec: dict[str, Any],
    recipe: dict[str, Any],
    max_run_fraction: float,
    interface: str,
    racing: dict[str, Any] | None = None,
) -> PhaseConfig:
    """The PhaseConfig of a flat phase body's experiment fields; ConfigError if invalid."""
    recipe = dict(recipe)
    extras = {name: recipe.pop(name) for name in PHASE_LEVEL_FIELDS if name in recipe}
    kind, _, path = dataset.partition(":")
    return validate_phase(
        {
            "dataset": {"kind": kind, "path": path or None},
            "split": dict(split_spec),
            "model": model,
            "recipe": recipe,
            "replicas": replicas,
            "estimator": estimator,
            "max_run_fraction": max_run_fraction,
            "interface": interface,
            "racing": racing,
            **extras,
        }
    )


def _changed(model: BaseModel, default: BaseModel) -> dict[str, Any]:
    values, defaults = model.model_dump(mode="json"), default.model_dump(mode="json")
    return {name: value for name, value in values.items() if value != defaults[name]}


def _nearest_recipe(recipe: TrainRecipe) -> dict[str, Any]:
    """`recipe` as the preset it differs least from plus its changes (the default preset
    unnamed): how an organizer writes it, and what `PhaseConfig` reads back."""
    changes = {name: _changed(recipe, preset) for name, preset in RECIPES.items()}
    nearest = min(changes, key=lambda name: (len(changes[name]), name != DEFAULT_PRESET))
    named = {} if nearest == DEFAULT_PRESET else {"preset": nearest}
    return {**named, **changes[nearest]}


def flat_fields(config: PhaseConfig) -> dict[str, Any]:
    """A PhaseConfig as a flat phase body's experiment fields (`FLAT_FIELDS`), written the
    short way: `split_spec` and `recipe` hold what differs from the defaults (a recipe as its
    nearest preset plus changes), the published `dev_seed` always; never leaderboard seeds.
    `flat_phase` reads them back to the same PhaseConfig, leaderboard seeds aside."""
    default = PhaseConfig()
    split = _changed(config.split, default.split)
    split = {k: v for k, v in split.items() if k not in LEADERBOARD_SEEDS}
    level = _changed(config, default)
    recipe = {**_nearest_recipe(config.recipe)}
    recipe.update({name: level[name] for name in PHASE_LEVEL_FIELDS if name in level})
    path = config.dataset.path
    return {
        "dataset": f"{config.dataset.kind}:{path}" if path else config.dataset.kind,
        "split_spec": {**split, "dev_seed": config.split.dev_seed},
        "model": config.model,
        "recipe": recipe,
        "replicas": config.replicas,
        "estimator": config.estimator,
        "max_run_fraction": config.max_run_fraction,
        "interface": config.interface,
        "racing": None if config.racing is None else config.racing.to_dict(),
    }


def public_phase(raw: dict[str, Any]) -> PhaseConfig:
    """The PhaseConfig of `GET /api/v1/phases/{id}`'s body: its `experiment` (which wins over
    the flat fields beside it), or in a body saved from an older server, its flat fields
    (other fields are ignored).

    A body saved from a server before the gate's limit had one name says `efficiency_gate`."""
    if isinstance(raw.get("experiment"), dict):
        return validate_phase(raw["experiment"])
    if "efficiency_gate" in raw and "max_run_fraction" not in raw:
        raw = {**raw, "max_run_fraction": raw["efficiency_gate"]}
    return flat_phase(**{name: raw[name] for name in FLAT_FIELDS if name in raw})


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
        saved = "experiment" in raw or "split_spec" in raw  # a GET /api/v1/phases/{id} body
        return public_phase(raw) if saved else validate_phase(raw)
    except (ConfigError, TypeError) as error:
        raise ConfigError(f"{path}: {error}") from None
