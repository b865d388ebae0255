"""End to end: `unlearn dry-run` on small phases, the reference cache, failures, ordering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.phase import DatasetConfig, PhaseConfig, SplitConfig, TrainRecipe
from harness.pipeline import dry_run
from harness.report.build import summary_rows
from harness.report.schema import EvaluationReport
from harness.runs.sandbox.local import LocalRunner
from unlearn.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "starting_kit" / "examples"
SMALL = ["--dataset", "digits", "--epochs", "3", "--replicas", "6"]
POPULATION_ROW = (
    "population attack accuracy unlearned / retrained (beside the score, 0.5 = no trace)"
)


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dry-run", *args])
    return result.exit_code, result.output


def test_cli_dry_run_writes_report_and_plots_and_reuses_the_reference(tmp_path: Path) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    code, output = _invoke(
        [str(EXAMPLES / "finetune.py"), *SMALL, *cache, "--out", str(tmp_path / "ft"), "--plots"]
    )
    assert code == 0, output
    report = json.loads((tmp_path / "ft" / "report.json").read_text())
    for key in (
        "forget_quality",
        "final_score",
        "noise_floor",
        "estimator",
        "replicas",
        "epsilons",
        "accuracy",
        "efficiency",
    ):
        assert key in report
    provenance = report["provenance"]
    assert report["replicas"] == 6 and len(report["epsilons"]) == provenance["sizes"]["forget"]
    assert provenance["reference"]["cached"] is False
    assert provenance["code"]["harness"] and provenance["code"]["torch"]
    assert report["noise_floor"] is None, "6 replicas cannot be split into two halves of 4"
    assert 0.0 <= report["mia"]["lira"]["auc"] <= 1.0  # beside the score, in its own key
    assert "LiRA attack AUC (beside the score" in output
    population = report["mia"]["population"]  # the starting kit's attack, beside the score
    assert population["models"] == 6 and population["n_per_class"] >= 10
    for side in (population, population["retrained"]):
        assert 0.0 <= side["accuracy"] <= 1.0 and side["accuracy_std"] >= 0.0
    rows = dict(summary_rows(EvaluationReport.model_validate(report)))
    row = rows[POPULATION_ROW]
    assert row.startswith(
        f"{population['accuracy']:.3f} ± {population['accuracy_std']:.3f} / "
        f"{population['retrained']['accuracy']:.3f} ± "
    ), row
    assert "population attack" in output
    secondary = report["secondary"]  # beside the score, each with its reading
    assert set(secondary) == {
        "tow",
        "klom_forget",
        "klom_retain",
        "retain_drift",
        "lira_auc",
        "population",
    }
    for entry in secondary.values():
        assert entry["value"] is not None, entry
        assert entry["label"] and entry["reading"]
    assert secondary["lira_auc"]["value"] == report["mia"]["lira"]["auc"]
    assert (
        f"{secondary['tow']['value']:.3f} ["
        in rows["ToW (accuracy match with retraining) (beside the score)"]
    )
    assert "KLoM, retain" in output and "ToW" in output  # the table wraps long labels
    for plot in ("epsilons.png", "worst_examples.png", "accuracies.png"):
        assert (tmp_path / "ft" / plot).stat().st_size > 1000

    # A reference cached by an older version has no test-set losses: it still loads, and
    # only the retrained side of the population attack is missing.
    (stored,) = (tmp_path / "cache" / "references").glob("*/reference.npz")
    with np.load(stored) as arrays:
        kept_later = ("test_losses", "retain_confs")
        older = {name: arrays[name] for name in arrays.files if name not in kept_later}
    stored.with_name("original.npz").unlink()  # kept later too: computed again on load
    np.savez(stored, **older)  # type: ignore[arg-type]
    code, output = _invoke(
        [str(EXAMPLES / "do_nothing.py"), *SMALL, *cache, "--out", str(tmp_path / "dn")]
    )
    assert code == 0, output
    again = json.loads((tmp_path / "dn" / "report.json").read_text())
    assert again["provenance"]["reference"]["cached"] is True
    assert not list((tmp_path / "dn").glob("*.png")), "plots are written on request only"
    assert "add --plots" in output
    stages = set(again["provenance"]["timings_s"])
    assert {"prepare", "runs", "evaluate", "score", "report"} <= stages
    assert again["mia"]["population"]["accuracy"] is not None
    assert again["mia"]["population"]["retrained"] is None
    again_rows = dict(summary_rows(EvaluationReport.model_validate(again)))
    assert " / unavailable (6 models" in again_rows[POPULATION_ROW]
    assert again["secondary"]["klom_retain"]["value"] is None
    assert again["secondary"]["klom_retain"]["reading"].startswith("unavailable")
    drift = again["secondary"]["retain_drift"]  # the original's evaluation came back
    assert drift["value"] is not None and drift["retrained"] is None
    assert stored.with_name("original.npz").is_file()
    assert again["provenance"]["reference"]["key"] == provenance["reference"]["key"]
    assert again["forget_quality"] == 0.0, "a deterministic unlearner hits the spike guard"


def test_cli_dry_run_of_a_crashing_submission_shows_its_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def unlearning(net, retain_loader, forget_loader, val_loader):\n    return 1 / 0\n"
    )
    code, output = _invoke(
        [str(bad), *SMALL, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "o")]
    )
    assert code == 1
    assert "ZeroDivisionError" in output and "bad.py" in output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["category"] == "exception"
    assert "1 / 0" in report["error"]["traceback"]


def test_cli_dry_run_reports_a_missing_dataset_as_configuration_error(tmp_path: Path) -> None:
    code, output = _invoke(
        [
            str(EXAMPLES / "do_nothing.py"),
            "--dataset",
            "cifar10",
            "--data-path",
            str(tmp_path / "nothing"),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2 and "cifar-10-batches-py" in output


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ordering_retrain_above_finetune_above_do_nothing(tmp_path: Path) -> None:
    """On the embedded default, forget quality ranks the oracle first and doing nothing last."""
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="mnist1d"),
        split=SplitConfig(forget_fraction=0.05),
        recipe=TrainRecipe(),
        replicas=16,
    )
    scores = {}
    for name in ("do_nothing", "finetune", "retrain"):
        report, *_ = dry_run(
            EXAMPLES / f"{name}.py", phase, runner=LocalRunner(), cache_dir=tmp_path
        )
        scores[name] = report
    f = {name: report.forget_quality for name, report in scores.items()}
    assert f["do_nothing"] == 0.0
    assert f["retrain"] > f["finetune"] > f["do_nothing"], f
    finetune, retrain = scores["finetune"].efficiency, scores["retrain"].efficiency
    assert finetune is not None and finetune.passed, finetune
    assert retrain is not None and not retrain.passed
    assert "over the gate of 20%" in retrain.verdict()
    # The secondary metrics on the same known cases: retraining matches the reference's
    # accuracies (ToW near 1) and margins (KLoM near 0); the original model does not.
    secondary = {name: report.secondary for name, report in scores.items()}
    tow = {name: metrics["tow"].value for name, metrics in secondary.items()}
    klom = {name: metrics["klom_forget"].value for name, metrics in secondary.items()}
    assert tow["retrain"] >= 0.9 and tow["retrain"] > tow["do_nothing"], tow
    assert klom["retrain"] < 0.5 * klom["do_nothing"], klom
    assert secondary["do_nothing"]["retain_drift"].value == 0.0  # the original itself
