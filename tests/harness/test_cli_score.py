"""``unlearn score`` end to end through typer's runner, on .npy files written to tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.scoring import forget_quality
from unlearn.cli import app

runner = CliRunner()


@pytest.fixture
def confidence_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    unlearned, retrained = tmp_path / "U.npy", tmp_path / "R.npy"
    np.save(unlearned, rng.normal(size=(32, 5)) + 0.5)
    np.save(retrained, rng.normal(size=(32, 5)))
    return unlearned, retrained


@pytest.mark.parametrize("estimator", ["neurips2023", "calibrated", "pooled"])
def test_score_prints_one_json_object(confidence_files: tuple[Path, Path], estimator: str) -> None:
    unlearned, retrained = confidence_files
    result = runner.invoke(
        app,
        [
            "score",
            "--unlearned",
            str(unlearned),
            "--retrained",
            str(retrained),
            "--estimator",
            estimator,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = forget_quality(np.load(unlearned), np.load(retrained), estimator=estimator)
    assert payload["estimator"] == estimator
    assert payload["forget_quality"] == expected.forget_quality
    assert payload["epsilons"] == expected.epsilons.tolist()
    assert (payload["n_models"], payload["n_examples"]) == (32, 5)
    assert 0.0 <= payload["noise_floor"] <= 1.0


def test_score_text_output_has_interval_when_asked(confidence_files: tuple[Path, Path]) -> None:
    unlearned, retrained = confidence_files
    result = runner.invoke(
        app,
        [
            "score",
            "--unlearned",
            str(unlearned),
            "--retrained",
            str(retrained),
            "--bootstrap",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "forget quality" in result.stdout and "95% interval" in result.stdout


@pytest.mark.parametrize(
    ("retrained_array", "message"),
    [
        (np.zeros((32, 4)), "same shape"),
        (np.full((32, 5), np.nan), "NaN"),
    ],
)
def test_score_rejects_bad_input_with_exit_code_2(
    tmp_path: Path, confidence_files: tuple[Path, Path], retrained_array: np.ndarray, message: str
) -> None:
    unlearned, _ = confidence_files
    bad = tmp_path / "bad.npy"
    np.save(bad, retrained_array)
    result = runner.invoke(app, ["score", "--unlearned", str(unlearned), "--retrained", str(bad)])
    assert result.exit_code == 2
    assert message in result.stderr


def test_score_rejects_too_few_models_and_missing_files(tmp_path: Path) -> None:
    few = tmp_path / "few.npy"
    np.save(few, np.zeros((3, 2)))
    result = runner.invoke(app, ["score", "--unlearned", str(few), "--retrained", str(few)])
    assert result.exit_code == 2 and "at least" in result.stderr
    missing = runner.invoke(
        app, ["score", "--unlearned", str(tmp_path / "no.npy"), "--retrained", str(few)]
    )
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_score_rejects_unknown_estimator(confidence_files: tuple[Path, Path]) -> None:
    unlearned, retrained = confidence_files
    result = runner.invoke(
        app,
        [
            "score",
            "--unlearned",
            str(unlearned),
            "--retrained",
            str(retrained),
            "--estimator",
            "magic",
        ],
    )
    assert result.exit_code == 2 and "neurips2023" in result.stderr
