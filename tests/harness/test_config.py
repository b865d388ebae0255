"""PhaseConfig: the one model of a phase's experiment. JSON round trip, stable hashes,
refusal of impossible settings, names checked against the registries when validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness import registry
from harness.errors import ConfigError
from harness.phase import RECIPES, DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe
from harness.phase_schema import validate_phase


def test_phase_config_round_trips_through_json() -> None:
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="digits"),
        split=SplitConfig(forget_mode="classes", forget_count=2),
        hidden=(64, 32),
        recipe=RECIPES["competition"],
        replicas=16,
    )
    again = PhaseConfig.model_validate_json(phase.to_json())
    assert again == phase
    assert again.content_hash() == phase.content_hash()


def test_phase_config_accepts_a_recipe_preset_by_name_or_a_table_changing_one() -> None:
    phase = PhaseConfig.model_validate({"recipe": "competition"})
    assert phase.recipe.epochs == 30 and phase.recipe.class_weighted
    changed = PhaseConfig.model_validate({"recipe": {"preset": "competition", "epochs": 3}})
    assert changed.recipe == RECIPES["competition"].model_copy(update={"epochs": 3})
    assert PhaseConfig.model_validate({"recipe": {"epochs": 3}}).recipe == TrainRecipe(epochs=3)


def test_content_hash_changes_with_any_setting() -> None:
    base = PhaseConfig()
    assert base.content_hash() != base.with_(replicas=32).content_hash()
    assert base.content_hash() != base.with_(recipe=TrainRecipe(lr=2e-3)).content_hash()


def test_content_hash_of_a_phase_without_racing_leaves_racing_out() -> None:
    # Hashes and reports of phases stored before racing joined the model stand.
    assert "racing" not in PhaseConfig().to_dict()
    assert PhaseConfig(racing={"first_round": 8}).to_dict()["racing"]["first_round"] == 8


def test_original_key_ignores_the_forget_split_but_reference_key_does_not() -> None:
    phase = PhaseConfig()
    other = phase.with_(split=SplitConfig(forget_fraction=0.05))
    assert phase.original_key() == other.original_key()
    assert phase.reference_key("public") != other.reference_key("public")
    assert phase.reference_key("public") != phase.reference_key("private")


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"dataset": {"kind": "imagenet"}}, "dataset.kind"),
        ({"dataset": {"kind": "cifar10"}}, "needs a path"),
        ({"split": {"forget_fraction": 1.5}}, "forget_fraction must lie strictly between"),
        ({"split": {"public_seed": 3, "private_seed": 3}}, "different seeds"),
        ({"split": {"forget_mode": "half"}}, "split.forget_mode"),
        ({"recipe": {"optimizer": "lion"}}, "recipe.optimizer"),
        ({"recipe": "fastest"}, "'cpu-default', 'competition' or 'resnet-fast'"),
        ({"replicas": 1}, "replicas"),
        ({"replicas": 4, "estimator": "calibrated"}, "needs at least 8"),
        ({"max_run_fraction": 0}, "max_run_fraction"),
        ({"racing": {"first_round": 64}}, "racing.first_round (64) must be below replicas"),
        ({"replicas": 4, "colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(raw: dict, names: str) -> None:
    with pytest.raises(ConfigError, match="invalid phase") as error:
        validate_phase(raw)
    assert names in str(error.value)
    with pytest.raises(ValidationError):  # the model refuses them however it is built
        PhaseConfig.model_validate(raw)


def test_a_name_registered_at_run_time_is_valid_and_gone_once_removed(monkeypatch) -> None:
    with pytest.raises(ConfigError, match="'mlp', 'cnn'"):
        validate_phase({"model": "tiny"})
    monkeypatch.setitem(registry.MODELS, "tiny", "harness.models:build_mlp")
    assert validate_phase({"model": "tiny"}).model == "tiny"
    monkeypatch.undo()
    with pytest.raises(ConfigError):
        validate_phase({"model": "tiny"})


def test_every_registry_entry_resolves_to_its_implementation() -> None:
    # The names are light; a target that moved would fail here, not in a worker.
    for kind, entry in registry.DATASETS.items():
        assert isinstance(entry.loader, str) and callable(registry.resolve(entry.loader)), kind
    assert all(callable(registry.MODELS[name]) for name in registry.MODELS)
    assert all(registry.INTERFACES[name].name == name for name in registry.INTERFACES)
