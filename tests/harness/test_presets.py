"""Phase presets: each one is a valid phase, and the competition's is the 2023 setting."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.phase import RECIPES
from harness.phase_schema import read_phase_file, validate_phase
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


def test_a_phase_file_starts_from_a_preset_and_its_fields_win_key_by_key(tmp_path) -> None:
    path = tmp_path / "phase.toml"
    path.write_text(
        'preset = "competition-fast"\nreplicas = 8\n'
        '[dataset]\nkind = "folder"\npath = "/srv/faces"\n'
        "[recipe]\nepochs = 1\n"
        "[split]\nforget_count = 2\n"
    )
    config = read_phase_file(path)
    fast = RECIPES["resnet-fast"]
    assert (config.model, config.interface, config.replicas) == ("resnet18", "kaggle2023", 8)
    # the recipe is the preset's with one field changed, not the default recipe's
    assert config.recipe == fast.model_copy(update={"epochs": 1})
    assert (config.split.forget_mode, config.split.forget_count) == ("groups", 2)


def test_the_dry_run_takes_a_preset_beside_its_options() -> None:
    from unlearn.dry_run import _phase

    config = _phase(
        phase_id=None,
        server=None,
        phase_file=None,
        options={"preset": "competition-fast", "dataset": FOLDER, "split": {}, "model": None},
        replicas=4,
        epochs=1,
    )
    assert (config.model, config.replicas, config.recipe.epochs) == ("resnet18", 4, 1)
    assert config.recipe.optimizer == RECIPES["resnet-fast"].optimizer
    assert config.split.forget_mode == "groups"
    with pytest.raises(ConfigError, match="unknown phase preset '2023'.*competition-fast"):
        validate_phase({"preset": "2023", "dataset": FOLDER})
