"""The metric lab: its AUC and summaries, the probes, and one real small phase end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from harness.lab import LAB_METRICS, metric_lab
from harness.lab.faithfulness import auc, harmonic_mean
from harness.lab.populations import quantize, relearn
from harness.models import ModelSpec, build_model
from harness.phase import DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe
from harness.pipeline import prepare_phase
from harness.reference.train import init_state
from harness.scoring import ESTIMATORS
from unlearn.cli import app


def test_auc_counts_pairs_where_the_positive_looks_worse_and_half_the_ties() -> None:
    assert auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auc([1.0, 3.0], [1.0, 2.0]) == pytest.approx(0.625)  # (1 + 0.5 + 1 + 1 ... ) / 4
    assert math.isnan(auc([], [1.0])) and math.isnan(auc([float("nan")], [1.0]))
    assert harmonic_mean(0.5, 1.0) == pytest.approx(2 / 3)
    assert harmonic_mean(0.0, 1.0) == 0.0 and math.isnan(harmonic_mean(float("nan"), 1.0))


def test_quantize_rounds_each_float_tensor_to_255_levels_and_keeps_counters() -> None:
    state = {
        "w": torch.linspace(-1.0, 1.0, 10_001),
        "zero": torch.zeros(4),
        "count": torch.tensor(7, dtype=torch.long),
    }
    (out,) = quantize([state])
    assert len(torch.unique(out["w"])) <= 255
    assert float((out["w"] - state["w"]).abs().max()) <= 1.0 / 127 / 2 + 1e-7
    assert torch.equal(out["zero"], state["zero"]) and torch.equal(out["count"], state["count"])
    assert state["w"][1] != out["w"][1], "the input is not modified"


@pytest.mark.slow
def test_metric_lab_on_a_small_real_phase(tmp_path: Path) -> None:
    """scikit-learn's digits, 10% forgotten, an MLP with one hidden layer of 64, 8 reference
    models, 8 originals and 8 held-out replicas trained 10 epochs (the embedded default
    needs far more training to memorise its forget set): the table has one row per metric,
    AUCs in [0, 1], and the 2023 estimator tells the originals from retrained models better
    than chance."""
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="digits"),
        split=SplitConfig(forget_fraction=0.1),
        hidden=(64,),
        recipe=TrainRecipe(epochs=10),
        replicas=8,
    )
    result = metric_lab(phase, cache_dir=tmp_path, models=8, ensemble=8, trials=4, steps=2)
    table = {row["metric"]: row for row in result["table"]}
    assert list(table) == list(LAB_METRICS) and set(ESTIMATORS) <= set(table)
    for row in table.values():
        for key in ("faithfulness", "relearn", "quantize", "robustness", "overall"):
            assert math.isnan(row[key]) or 0.0 <= row[key] <= 1.0, row
    assert table["neurips2023"]["faithfulness"] > 0.5
    assert table["lira_auc"]["faithfulness"] > 0.5
    assert result["relearn_steps"] == 2 and result["ensemble"] == 8
    assert len(result["values"]["clean"]["original"]["neurips2023"]) == 4

    # Relearning on the forget set teaches it: a fresh model's forget accuracy rises.
    prepared = prepare_phase(phase, split="dev", cache_dir=tmp_path)
    x, y = prepared.splits.tensors("forget")
    spec: ModelSpec = prepared.spec
    model = build_model(spec)
    state = init_state(spec, 0)

    def forget_accuracy(weights: dict[str, torch.Tensor]) -> float:
        model.load_state_dict(weights)
        model.eval()
        with torch.no_grad():
            return float((model(x).argmax(1) == y).double().mean())

    (moved,) = relearn(spec, [state], prepared.splits, phase.recipe, steps=20)
    assert forget_accuracy(moved) > forget_accuracy(state) + 0.2

    # The command: the same phase from a file, the cache reused; JSON and a plot out.
    path = tmp_path / "phase.json"
    raw = phase.to_dict()
    raw["recipe"] = {"preset": "cpu-default", **raw["recipe"]}
    path.write_text(json.dumps(raw))
    out = tmp_path / "lab"
    command = ["metric-lab", "--phase-file", str(path), "--cache-dir", str(tmp_path)]
    command += ["--models", "8", "--trials", "2", "--relearn-steps", "1", "--out", str(out)]
    wide = {"COLUMNS": "200"}  # the table's columns in full
    outcome = CliRunner().invoke(app, [*command, "--plot"], env=wide)
    assert outcome.exit_code == 0, outcome.output
    assert "faithfulness" in outcome.output and "F, neurips2023" in outcome.output
    assert "training held-out" not in outcome.output, "kept from the first run"
    written = json.loads((out / "metric_lab.json").read_text())
    assert [row["metric"] for row in written["table"]] == list(LAB_METRICS)
    assert (out / "metric_lab.png").stat().st_size > 1000
    refused = CliRunner().invoke(app, [*command[:-2], "--ensemble", "2", "--out", str(out)])
    assert refused.exit_code == 2 and "at least" in refused.output
    assert np.isfinite(written["seconds"])
