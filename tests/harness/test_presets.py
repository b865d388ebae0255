"""Phase presets: each one is a valid phase, and the competition's is the 2023 setting."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.phase import RECIPES
from harness.phase_schema import validate_phase
from harness.presets import PHASE_PRESETS, phase_preset

FOLDER = {"kind": "folder", "path": "/srv/faces"}


@pytest.mark.parametrize("name", list(PHASE_PRESETS))
def test_every_phase_preset_validates_as_a_phase(name: str) -> None:
    preset = PHASE_PRESETS[name]
    config = validate_phase({"dataset": FOLDER, **preset.fields()})
    assert config.recipe == RECIPES[preset.recipe]
    assert (config.model, config.replicas, config.interface) == (
        preset.model,
        preset.replicas,
        preset.interface,
    )


def test_competition_preset_is_the_2023_setting() -> None:
    config = validate_phase({"dataset": FOLDER, **phase_preset("competition").fields()})
    assert (config.model, config.replicas, config.estimator) == ("resnet18", 512, "neurips2023")
    assert (config.split.forget_mode, config.split.forget_count) == ("groups", 15)
    recipe = config.recipe
    assert (recipe.epochs, recipe.optimizer, recipe.lr, recipe.weight_decay) == (
        30,
        "adam",
        1e-4,
        5e-3,
    )
    assert (recipe.schedule, recipe.batch_size, recipe.class_weighted) == ("cosine", 64, True)
    assert (config.max_run_fraction, config.interface) == (0.2, "kaggle2023")


def test_fast_preset_trains_fewer_epochs_than_the_competition() -> None:
    fast = RECIPES[phase_preset("competition-fast").recipe]
    assert fast.epochs < RECIPES["competition"].epochs


def test_unknown_phase_preset_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="competition, competition-fast"):
        phase_preset("2023")
