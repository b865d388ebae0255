"""Several original models (`originals: K`): K = 1 keeps the 2023 rule's keys and numbers;
K > 1 spreads the runs over K originals and reports each original's score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.errors import ConfigError
from harness.phase import DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe
from harness.phase_schema import flat_phase, validate_phase
from harness.pipeline import dry_run, prepare_phase
from harness.reference.originals import original_index
from harness.report.build import summary_rows
from harness.runs.sandbox.local import LocalRunner
from harness.scoring.originals import per_original
from unlearn.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "starting_kit" / "examples"


@pytest.mark.slow
def test_one_original_keeps_the_phase_hash_and_the_cache_keys(tmp_path: Path) -> None:
    # Hashes taken before `originals` existed: a K = 1 phase must find the same cache.
    assert PhaseConfig().content_hash() == (
        "feccf673388dae2ac8d11d3570a9476843c09111a3c037e3672408febf7ddc23"
    )
    assert "originals" not in PhaseConfig().to_dict()
    assert PhaseConfig(originals=2).content_hash() != PhaseConfig().content_hash()
    assert PhaseConfig(originals=2).reference_key("dev") == PhaseConfig().reference_key("dev")
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="digits"), recipe=TrainRecipe(epochs=1), replicas=4
    )
    prepared = prepare_phase(phase, split="dev", cache_dir=tmp_path)
    assert [p.name for p in (tmp_path / "originals").iterdir()] == [
        "f3a9e832ed59b587e037c68ccfe9ada947d71c7bba3b467c8dbd6a53fc667826"
    ]
    assert prepared.reference.key == (
        "d94a5d7acbf128ae65a85af576905e4f651d5f079e182b9510f092122835b956"
    )
    assert len(prepared.reference.originals) == 1
    assert prepared.reference.original_evaluation is not None
    assert prepared.reference.original_evaluation.n_models == 1


def test_originals_setting_is_checked_where_a_phase_enters() -> None:
    assert validate_phase({"originals": 4, "replicas": 8}).originals == 4
    # The API's flat phase body keeps phase-level fields inside its recipe.
    config = flat_phase(
        dataset="mnist1d",
        model="mlp",
        replicas=8,
        estimator="neurips2023",
        split_spec={},
        recipe={"originals": 2},
        max_run_fraction=0.2,
        interface="tuple",
    )
    assert config.originals == 2 and config.recipe.epochs == 40
    with pytest.raises(ConfigError, match="originals"):
        validate_phase({"originals": 0})
    with pytest.raises(ConfigError, match="originals must lie in 1..replicas"):
        validate_phase({"originals": 9, "replicas": 8})


def test_runs_are_spread_evenly_over_the_originals() -> None:
    assert [original_index(seed, 3) for seed in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert {original_index(seed, 1) for seed in range(5)} == {0}


def test_per_original_scores_each_originals_runs_and_their_spread() -> None:
    rng = np.random.default_rng(0)
    retrained = rng.normal(size=(8, 30))
    unlearned = rng.normal(size=(8, 30))
    unlearned[1::2] += 5.0  # original 1's runs are far from retraining
    ones = np.ones(8)
    result = per_original(
        seeds=np.arange(8),
        originals=2,
        unlearned_confs=unlearned,
        retrained_confs=retrained,
        unlearned_retain_acc=ones,
        retrained_retain_acc=ones,
        unlearned_test_acc=ones,
        retrained_test_acc=ones,
        estimator="neurips2023",
    )
    assert result is not None
    good, bad = result["scores"]
    assert good["runs"] == bad["runs"] == 4
    assert good["final_score"] > 0.05 and bad["final_score"] == 0.0
    assert result["range"] == [0.0, good["final_score"]] and result["sd"] > 0
    kwargs = {
        "unlearned_confs": unlearned,
        "retrained_confs": retrained,
        "unlearned_retain_acc": ones,
        "retrained_retain_acc": ones,
        "unlearned_test_acc": ones,
        "retrained_test_acc": ones,
        "estimator": "neurips2023",
    }
    assert per_original(seeds=np.arange(8), originals=1, **kwargs) is None
    too_few = per_original(seeds=np.arange(8), originals=4, **kwargs)  # 2 runs each
    assert too_few is not None and too_few["range"] is None
    assert "fewer runs" in too_few["reading"]


@pytest.mark.slow
def test_dry_run_with_several_originals_on_the_embedded_default(tmp_path: Path) -> None:
    """mnist1d, K = 2: do-nothing runs return their own original, so the unlearned rows
    alternate between the two originals' outputs, and no longer form a spike."""
    phase = PhaseConfig(
        split=SplitConfig(forget_fraction=0.02),
        hidden=(16,),
        recipe=TrainRecipe(epochs=1, batch_size=256),
        replicas=8,
        originals=2,
    )
    report, prepared, unlearned, _ = dry_run(
        EXAMPLES / "do_nothing.py", phase, runner=LocalRunner(), cache_dir=tmp_path, split="dev"
    )
    originals = prepared.reference.original_evaluation
    assert originals is not None and originals.n_models == 2
    assert len(list((tmp_path / "originals").iterdir())) == 2
    assert not np.array_equal(originals.forget_confs[0], originals.forget_confs[1])
    for seed in range(8):
        expected = originals.forget_confs[seed % 2]
        np.testing.assert_allclose(unlearned.forget_confs[seed], expected, rtol=1e-6)
    spread = report.originals
    assert spread is not None
    assert spread.count == 2 and [row.runs for row in spread.scores] == [4, 4]
    # Each original's four runs are identical: a spike, 0 points, as under the 2023 rule.
    assert spread.range == (0.0, 0.0)
    assert report.provenance.phase is not None and report.provenance.phase["originals"] == 2
    assert any(
        label.startswith("score per original (2 originals") for label, _ in summary_rows(report)
    )
    drift = report.secondary["retain_drift"]
    assert drift.value == pytest.approx(0.0, abs=1e-12), "each run is its own original"

    # The same phase from the command line, cached: nothing is trained again.
    result = CliRunner().invoke(
        app,
        [
            "dry-run",
            str(EXAMPLES / "do_nothing.py"),
            "--phase-file",
            str(_phase_file(tmp_path, phase)),
            "--cache-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert again["provenance"]["reference"]["cached"] is True
    assert again["final_score"] == report.final_score
    assert again["originals"] == spread.model_dump(mode="json")


def _phase_file(tmp_path: Path, phase: PhaseConfig) -> Path:
    path = tmp_path / "phase.json"
    raw = phase.to_dict()
    raw["recipe"] = {"preset": "cpu-default", **raw["recipe"]}
    path.write_text(json.dumps(raw))
    return path
