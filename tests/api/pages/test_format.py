"""Numbers as the pages print them."""

from __future__ import annotations

from api.pages import format as fmt
from tests.api.factories import report


def test_score_and_interval_round_to_four_decimals():
    assert fmt.score(0.25687499999999996) == "0.2569"
    assert fmt.interval(0.049619393902821586, 0.06718710368464499) == "[0.0496, 0.0672]"
    assert fmt.score(None) == "–" and fmt.score(float("nan")) == "–"


def test_duration_reads_as_hours_minutes_seconds():
    assert [fmt.duration(s) for s in (12, 200, 3900)] == ["12 s", "3 min 20 s", "1 h 05 min"]


def test_report_rows_include_ratios_and_efficiency_against_the_gate():
    rows = fmt.report_rows(
        {
            **report(0.5),
            "run_fraction": 0.31,
            "max_run_fraction": 0.2,
            "eligible": False,
            "run_seconds_median": 31.0,
            "retrain_seconds": 100.0,
        }  # fmt: skip
    )
    by_label = {row.label: row for row in rows}
    assert by_label["Final score"].value == "0.5000"
    assert by_label["Retain accuracy ratio"].value == "1.000"
    assert by_label["Efficiency"].value == "31% of one retraining"
    assert "over the gate of 20%" in by_label["Efficiency"].note


def test_mia_rows_show_the_population_attack_beside_its_retrained_baseline():
    population = {"accuracy": 0.61234, "accuracy_std": 0.0204, "models": 8, "n_per_class": 100}
    rows = fmt.mia_rows(
        {
            "mia": {
                "lira": {"auc": 0.5472},
                "population": {
                    **population,
                    "retrained": {**population, "accuracy": 0.50312, "accuracy_std": 0.0151},
                },
            }
        }  # fmt: skip
    )
    by_label = {row.label: row for row in rows}
    assert by_label["Population MIA accuracy"].value == "0.612"
    note = by_label["Population MIA accuracy"].note
    assert "± 0.020 over 8 models, 100 examples per class" in note
    assert "retrained models 0.503 ± 0.015" in note
    assert by_label["Per-example LiRA AUC"].value == "0.547"
    older = fmt.mia_rows({"mia": {"lira": {"auc": 0.5}, "population": {"accuracy": 0.5}}})
    assert older[0].value == "0.500" and older[0].note.endswith(
        "0.5 = no trace; retrained models unavailable"
    )
    unavailable = fmt.mia_rows({"mia": {"lira": None, "population": None}})
    assert unavailable == [] and fmt.mia_rows({}) == []


def _entry(label: str, value: float | None, interval, reading: str) -> dict:
    return {"label": label, "value": value, "interval": interval, "reading": reading}


def test_secondary_rows_show_each_metric_with_its_interval_and_reading():
    secondary = {
        "tow": _entry("ToW", 0.98765, [0.97, 0.99], "1 = as retrained"),
        "klom_retain": _entry("KLoM, retain sample", None, None, "unavailable: not kept"),
        "lira_auc": _entry("Per-example LiRA AUC", 0.5, None, "shown with the attacks"),
    }
    rows = fmt.secondary_rows({"secondary": secondary})
    assert [(row.label, row.value) for row in rows] == [
        ("ToW", "0.988"),
        ("KLoM, retain sample", "unavailable"),
    ]
    assert rows[0].note == "[0.970, 0.990] 1 = as retrained"
    assert rows[1].note == "unavailable: not kept"
    assert fmt.secondary_rows({}) == [] and fmt.secondary_rows({"secondary": None}) == []
