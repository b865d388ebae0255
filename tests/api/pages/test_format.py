"""Numbers as the pages print them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.pages import format as fmt
from harness.report.schema import Originals
from tests.api.factories import report


def test_score_and_interval_round_to_four_decimals():
    assert fmt.score(0.25687499999999996) == "0.2569"
    assert fmt.interval(0.049619393902821586, 0.06718710368464499) == "[0.0496, 0.0672]"
    assert fmt.score(None) == "–" and fmt.score(float("nan")) == "–"


def test_duration_reads_as_hours_minutes_seconds():
    assert [fmt.duration(s) for s in (12, 200, 3900)] == ["12 s", "3 min 20 s", "1 h 05 min"]


def test_report_rows_include_ratios_and_efficiency_against_the_gate():
    slow = report(0.5, accuracies=(0.9, 0.9, 0.8, 0.8), run_seconds=31.0, retrain_seconds=100.0)
    by_label = {row.label: row for row in fmt.report_rows(slow)}
    assert by_label["Final score"].value == "0.5000"
    assert by_label["Final score"].note == "95% interval [0.4800, 0.5200]"
    assert by_label["Retain accuracy ratio"].value == "1.000"
    assert by_label["Efficiency"].value == "31% of one retraining"
    assert by_label["Efficiency"].note == slow.efficiency.verdict()  # type: ignore[union-attr]
    assert "over the gate of 20%" in by_label["Efficiency"].note
    assert by_label["Models"].value == "N = 8"
    fast = {row.label: row for row in fmt.report_rows(report(0.5, run_seconds=0.05))}
    assert "within the gate of 20%" in fast["Efficiency"].note


def test_report_rows_read_a_stored_report_through_the_model():
    stored = report(0.5, half_width=0.1).to_json()
    rows = {row.label: row for row in fmt.report_rows(fmt.read_report(stored))}
    assert rows["Final score"].note == "95% interval [0.4000, 0.6000]"
    with pytest.raises(ValidationError, match="retain_accuracy_unlearned"):
        fmt.read_report({**stored, "retain_accuracy_unlearned": 0.9})  # an old key: migrated


POPULATION = {"accuracy": 0.61234, "accuracy_std": 0.0204, "models": 8, "n_per_class": 100}


def test_mia_rows_show_the_population_attack_beside_its_retrained_baseline():
    mia = {
        "lira": {"auc": 0.5472, "tpr_at_fpr": {"0.01": 0.02}, "n_scores": 16},
        "population": {
            **POPULATION,
            "retrained": {**POPULATION, "accuracy": 0.50312, "accuracy_std": 0.0151},
        },
    }
    by_label = {row.label: row for row in fmt.mia_rows(report(0.5, mia=mia))}
    assert by_label["Population MIA accuracy"].value == "0.612"
    note = by_label["Population MIA accuracy"].note
    assert "± 0.020 over 8 models, 100 examples per class" in note
    assert "retrained models 0.503 ± 0.015" in note
    assert by_label["Per-example LiRA AUC"].value == "0.547"
    older = fmt.mia_rows(report(0.5, mia={"population": {"accuracy": 0.5}}))
    assert older[0].value == "0.500" and older[0].note.endswith(
        "0.5 = no trace; retrained models unavailable"
    )
    assert fmt.mia_rows(report(0.5, mia={"lira": None, "population": None})) == []
    assert fmt.mia_rows(report(0.5)) == []


def _entry(label: str, value: float | None, interval, reading: str) -> dict:
    return {"label": label, "value": value, "interval": interval, "reading": reading}


def test_secondary_rows_show_each_metric_with_its_interval_and_reading():
    secondary = {
        "tow": _entry("ToW", 0.98765, [0.97, 0.99], "1 = as retrained"),
        "klom_retain": _entry("KLoM, retain sample", None, None, "unavailable: not kept"),
        "lira_auc": _entry("Per-example LiRA AUC", 0.5, None, "shown with the attacks"),
    }
    rows = fmt.secondary_rows(report(0.5, secondary=secondary))
    assert [(row.label, row.value) for row in rows] == [
        ("ToW", "0.988"),
        ("KLoM, retain sample", "unavailable"),
    ]
    assert rows[0].note == "[0.970, 0.990] 1 = as retrained"
    assert rows[1].note == "unavailable: not kept"
    assert fmt.secondary_rows(report(0.5)) == []


def test_secondary_rows_show_extra_figures_after_the_metrics():
    extra = {"spread": _entry("Spread between originals", 0.12, None, "0 = one original")}
    tow = {"tow": _entry("ToW", 0.9, None, "1 = as retrained")}
    scored = fmt.read_report({**report(0.5, secondary=tow).to_json(), "figures": extra})
    assert [row.label for row in fmt.secondary_rows(scored)] == [
        "ToW",
        "Spread between originals",
    ]


def test_report_rows_show_each_originals_score_and_their_spread():
    one = report(0.5)
    assert "Original models" not in {row.label for row in fmt.report_rows(one)}
    spread = {
        "count": 2,
        "scores": [
            {"original": 0, "runs": 4, "final_score": 0.41, "forget_quality": 0.5},
            {"original": 1, "runs": 4, "final_score": 0.47, "forget_quality": 0.6},
        ],
        "range": [0.41, 0.47],
        "sd": 0.0424,
    }
    two = one.model_copy(update={"originals": Originals.model_validate(spread)})
    [row] = [row for row in fmt.report_rows(two) if row.label == "Original models"]
    assert row.value == "K = 2"
    assert "0.410, 0.470 (range [0.410, 0.470], sd 0.042)" in row.note
