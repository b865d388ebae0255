"""Phases: the experiment an organizer creates or edits (checked by the phase schema), what a
phase shows, its preparation, secrets and quota.
"""

from __future__ import annotations

from copy import copy
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined

from api.schemas.common import HIDDEN_SEED_KEYS
from competition.models import Phase, stored_experiment
from competition.pipeline_models import PreparationState
from harness.errors import ConfigError
from harness.phase import PhaseConfig, SplitConfig
from harness.phase_schema import FLAT_FIELDS, check_server_secrecy, explain, flat_fields, flat_phase
from harness.presets import PHASE_PRESETS, with_preset
from harness.scoring.racing import RacingConfig


def experiment_field(name: str, *, required: bool = False) -> Any:
    """The phase model's field `name` (`harness.phase.PhaseConfig`): its default, bounds and
    description, written there once; `required`: without the default (a server phase names
    its experiment)."""
    info = copy(PhaseConfig.model_fields[name])
    if required:
        info.default = PydanticUndefined
    return info


class PhaseBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=20_000)
    dataset: str = Field(min_length=1, max_length=100)
    split_spec: dict[str, Any] = Field(
        default_factory=dict,
        description="`SplitConfig` fields, with the published `dev_seed` of the development "
        "split; the leaderboards' seeds are made by the server and never shown here",
    )
    model: str = Field(min_length=1, max_length=100)
    recipe: dict[str, Any] = Field(
        default_factory=dict,
        description="a table of `TrainRecipe` fields, starting from the recipe its `preset` "
        "names (default: the phase model's)",
    )
    replicas: int = experiment_field("replicas", required=True)
    estimator: str = Field(min_length=1, max_length=50)
    max_run_fraction: float = experiment_field("max_run_fraction")
    interface: str = experiment_field("interface")
    starts_at: datetime
    ends_at: datetime
    daily_quota: int = Field(default=5, ge=0, le=1000)
    max_in_flight: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="a team's submissions being evaluated at once (0: no cap); more are refused",
    )
    show_logs: bool = False
    sanity_check_required: bool = True
    racing: RacingConfig | None = experiment_field("racing")

    @model_validator(mode="after")
    def _times(self) -> PhaseBase:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone, e.g. 2026-01-01T00:00:00Z")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PhaseCreate(PhaseBase):
    preset: str | None = Field(
        default=None,
        exclude=True,  # not a column: it only fills the fields below
        description="start from a named phase preset "
        f"({', '.join(PHASE_PRESETS)}; see docs/evaluation.md): it fills model, recipe, "
        "split_spec, replicas, estimator, interface and max_run_fraction; fields given beside "
        "it win, key by key inside recipe and split_spec",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or raw.get("preset") is None:
            return raw
        if not isinstance(raw["preset"], str):
            return raw  # the field's own check refuses it
        try:  # the phase files' rule, on the flat body's split_spec
            return with_preset(raw, split_key="split_spec")
        except ConfigError as error:
            raise ValueError(f"preset: {error}") from None

    @field_validator("split_spec")
    @classmethod
    def _no_leaderboard_seeds(cls, spec: dict[str, Any]) -> dict[str, Any]:
        given = sorted(HIDDEN_SEED_KEYS & set(spec))
        if given:
            raise ValueError(
                f"remove {', '.join(given)} from split_spec: the server makes the leaderboard "
                "splits' seeds itself, so that nobody (organizers included) can guess them"
            )
        try:
            SplitConfig.model_validate(spec)
        except ValidationError as error:
            raise ValueError(f"split_spec: {explain(error)}") from None
        return spec

    _config: PhaseConfig = PrivateAttr()

    @model_validator(mode="after")
    def _experiment(self) -> PhaseCreate:
        """The harness's phase schema, built from its registries: 422 naming field and choices."""
        try:
            config = flat_phase(
                dataset=self.dataset,
                model=self.model,
                replicas=self.replicas,
                estimator=self.estimator,
                split_spec=self.split_spec,
                recipe=self.recipe,
                max_run_fraction=self.max_run_fraction,
                interface=self.interface,
                racing=None if self.racing is None else asdict(self.racing),
            )
            check_server_secrecy(config)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        self._config = config
        return self

    @property
    def config(self) -> PhaseConfig:
        """The validated experiment these fields describe (what `Phase.config` stores)."""
        return self._config


class PhaseUpdate(BaseModel):
    """What an organizer may change. The experiment's fields (`TRAINING_FIELDS`) only while
    nobody has submitted; changing them prepares the phase again."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(default=None, max_length=20_000)
    dataset: str | None = Field(default=None, min_length=1, max_length=100)
    model: str | None = Field(default=None, min_length=1, max_length=100)
    recipe: dict[str, Any] | None = None
    replicas: int | None = None  # experiment fields: checked with the phase's others
    estimator: str | None = Field(default=None, min_length=1, max_length=50)
    max_run_fraction: float | None = None
    interface: str | None = None
    split_spec: dict[str, Any] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    daily_quota: int | None = Field(default=None, ge=0, le=1000)
    max_in_flight: int | None = Field(default=None, ge=0, le=1000)
    show_logs: bool | None = None
    sanity_check_required: bool | None = None

    @model_validator(mode="after")
    def _aware(self) -> PhaseUpdate:
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("times need a time zone, e.g. 2026-01-01T00:00:00Z")
        return self


# What the reference models are trained from: an edit of one of them prepares the phase again.
TRAINING_FIELDS = ("dataset", "model", "recipe", "replicas", "split_spec")


# The experiment's fields an edit may change (`harness.phase_schema.FLAT_FIELDS`, checked
# together against the phase model by `PhaseCreate._experiment`).
EXPERIMENT_FIELDS = tuple(f for f in FLAT_FIELDS if f in PhaseUpdate.model_fields)


# The phase row's operational columns a `PhasePublic` shows beside its experiment.
PHASE_COLUMNS = (
    "id",
    "name",
    "description",
    "starts_at",
    "ends_at",
    "daily_quota",
    "max_in_flight",
    "show_logs",
    "sanity_check_required",
    "archived",
)


class PhasePublic(PhaseBase):
    """A phase as anyone reads it: its flat experiment fields (`harness.phase_schema.
    flat_fields`, the short way) and the whole experiment in `experiment`."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    archived: bool = False
    experiment: dict[str, Any] = Field(
        description="the phase's experiment, every field of `harness.phase.PhaseConfig` "
        "but the leaderboards' seeds: what `unlearn dry-run --phase` evaluates on"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, raw: Any) -> Any:
        if not isinstance(raw, Phase):
            return raw
        config = raw.config
        operational = {name: getattr(raw, name) for name in PHASE_COLUMNS}
        return {**operational, **flat_fields(config), "experiment": stored_experiment(config)}


class SplitPreparationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    split: Literal["public", "private"]
    state: PreparationState
    stage: str = Field(description="what is being done: data, original, reference, ...")
    done: int
    total: int
    retrain_seconds: float | None
    updated_at: datetime | None


class PreparationPublic(BaseModel):
    """Whether a phase can run: its reference models per leaderboard split."""

    phase_id: int
    state: PreparationState = Field(description="pending, preparing, ready or failed")
    splits: list[SplitPreparationPublic]
    error: str | None = Field(
        default=None, description="why preparation failed (organizers only; others: null)"
    )


class PhaseSecretsPublic(BaseModel):
    """Organizers only: the seeds of a phase's leaderboard splits."""

    model_config = ConfigDict(from_attributes=True)
    phase_id: int
    public_seed: int
    private_seed: int
    created_at: datetime


class QuotaPublic(BaseModel):
    phase_id: int
    team_id: int
    day: str
    used: int
    limit: int
    remaining: int
