"""`make_baselines` measures baselines through the dry-run's steps and writes the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.phase import RECIPES, DatasetConfig, PhaseConfig
from starting_kit.make_baselines import measure, write_outputs


@pytest.mark.slow
def test_measure_and_write_a_small_baseline_table(tmp_path: Path) -> None:
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="digits"),
        recipe=RECIPES["cpu-default"].model_copy(update={"epochs": 2}),
        replicas=16,
    )
    results = measure(
        phase,
        names=["do_nothing", "finetune"],
        cache_dir=tmp_path / "cache",
        partial=tmp_path / "partial.json",
    )
    assert json.loads((tmp_path / "partial.json").read_text())["rows"][-1]["name"] == "finetune"
    rows = {row["name"]: row for row in results["rows"]}
    # Identical runs are a spike: the competition's rule gives them nothing.
    assert rows["do_nothing"]["neurips2023"]["forget_quality"] == 0.0
    assert rows["finetune"]["neurips2023"]["forget_quality"] > 0.0
    for estimator in ("calibrated", "neurips2023"):
        assert 0.0 <= rows["finetune"][estimator]["forget_quality"] <= 1.0
    assert rows["finetune"]["efficiency_ratio"] > 0

    path = write_outputs(results, out_dir=tmp_path, headers=False)
    text = path.read_text()
    assert "[finetune](baselines/finetune.py)" in text and "Do-nothing scores" in text
    assert (tmp_path / "baselines_tradeoff.png").stat().st_size > 10_000
    redrawn = json.loads((tmp_path / "baselines.json").read_text())
    assert redrawn["rows"] == json.loads(json.dumps(results["rows"]))
