"""PhaseConfig: JSON round trip, stable hashes, refusal of impossible settings."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.phase import RECIPES, DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe


def test_phase_config_round_trips_through_json() -> None:
    phase = PhaseConfig(
        dataset=DatasetConfig("digits"),
        split=SplitConfig(forget_mode="classes", forget_count=2),
        hidden=(64, 32),
        recipe=RECIPES["competition"],
        replicas=16,
    )
    again = PhaseConfig.from_json(phase.to_json())
    assert again == phase
    assert again.content_hash() == phase.content_hash()


def test_phase_config_accepts_a_recipe_preset_by_name() -> None:
    phase = PhaseConfig.from_dict({"recipe": "competition"})
    assert phase.recipe.epochs == 30 and phase.recipe.class_weighted


def test_content_hash_changes_with_any_setting() -> None:
    base = PhaseConfig()
    assert base.content_hash() != base.with_(replicas=32).content_hash()
    assert base.content_hash() != base.with_(recipe=TrainRecipe(lr=2e-3)).content_hash()


def test_original_key_ignores_the_forget_split_but_reference_key_does_not() -> None:
    phase = PhaseConfig()
    other = phase.with_(split=SplitConfig(forget_fraction=0.05))
    assert phase.original_key() == other.original_key()
    assert phase.reference_key("public") != other.reference_key("public")
    assert phase.reference_key("public") != phase.reference_key("private")


@pytest.mark.parametrize(
    "build",
    [
        lambda: DatasetConfig("imagenet"),
        lambda: DatasetConfig("cifar10"),
        lambda: SplitConfig(forget_fraction=1.5),
        lambda: SplitConfig(public_seed=3, private_seed=3),
        lambda: SplitConfig(forget_mode="half"),
        lambda: TrainRecipe(optimizer="lion"),
        lambda: PhaseConfig(replicas=1),
        lambda: PhaseConfig.from_dict({"replicas": 4, "colour": "red"}),
    ],
)
def test_invalid_settings_raise_config_error(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        build()
