"""Numbers as a person reads them: scores with intervals, ratios, durations, time stamps.

Jinja filters (registered in `api.pages.render`) and `report_rows`, which turns a stored
score report (`harness.scoring.ScoreReport.to_dict()` plus the worker's efficiency figures)
into labelled rows. Precision: scores, intervals and the noise floor to 4 decimals (as the
leaderboard ranks them), accuracy ratios to 3, accuracies and efficiency to whole percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.pages.words import estimator_words

__all__ = [
    "ReportRow",
    "duration",
    "interval",
    "mia_rows",
    "percent",
    "report_rows",
    "score",
    "secondary_rows",
    "utc",
]


def score(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def interval(low: float | None, high: float | None, digits: int = 4) -> str:
    """`[0.0496, 0.0672]`, or an empty string when there is no interval."""
    if low is None or high is None:
        return ""
    return f"[{score(low, digits)}, {score(high, digits)}]"


def percent(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def duration(seconds: float | None) -> str:
    """`1 h 05 min`, `3 min 20 s`, `12 s`; under 10 s to a tenth (`0.4 s`), so that two
    short runs compared side by side do not both read `0 s`."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if 0 <= seconds < 9.95 and seconds != round(seconds):
        return f"{seconds:.1f} s"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def utc(moment: datetime | None) -> str:
    """ISO 8601 in UTC for `<time datetime=...>`, which the page's script shows locally."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ReportRow:
    label: str
    value: str
    note: str = ""


def _get(report: dict[str, Any], *names: str) -> Any:
    # Reports written before the keys were renamed use the older names.
    for name in names:
        if report.get(name) is not None:
            return report[name]
    return None


def report_rows(report: dict[str, Any]) -> list[ReportRow]:
    """The score, what it is made of, and the efficiency figures, in reading order."""
    rows: list[ReportRow] = []
    final_ci = report.get("final_score_ci") or [None, None]
    rows.append(
        ReportRow(
            "Final score",
            score(report.get("final_score")),
            f"95% interval {interval(*final_ci)}" if final_ci[0] is not None else "",
        )
    )
    fq_ci = report.get("forget_quality_ci") or [None, None]
    rows.append(
        ReportRow(
            "Forget quality F",
            score(report.get("forget_quality")),
            f"95% interval {interval(*fq_ci)}" if fq_ci[0] is not None else "",
        )
    )
    if report.get("noise_floor") is not None:
        rows.append(
            ReportRow(
                "Noise floor",
                score(report["noise_floor"]),
                "what a perfect unlearner scores with this estimator (retrained vs retrained)",
            )
        )
    for label, ratio, unlearned, retrained in (
        (
            "Retain accuracy ratio",
            "retain_ratio",
            ("unlearned_retain_acc", "retain_accuracy_unlearned"),
            ("retrained_retain_acc", "retain_accuracy_retrained"),
        ),
        (
            "Test accuracy ratio",
            "test_ratio",
            ("unlearned_test_acc", "test_accuracy_unlearned"),
            ("retrained_test_acc", "test_accuracy_retrained"),
        ),
    ):
        u, r = _get(report, *unlearned), _get(report, *retrained)
        value = report.get(ratio)
        if value is None and u is not None and r:
            value = u / r
        if value is not None:
            rows.append(
                ReportRow(
                    label, score(value, 3), f"unlearned {percent(u)} vs retrained {percent(r)}"
                )
            )
    if report.get("run_fraction") is not None:
        limit = report.get("max_run_fraction")
        verdict = "within" if report.get("eligible", True) else "over"
        rows.append(
            ReportRow(
                "Efficiency",
                percent(report["run_fraction"]) + " of one retraining",
                f"median run {duration(report.get('run_seconds_median'))} against "
                f"{duration(report.get('retrain_seconds'))}; "
                f"{verdict} the gate of {percent(limit)}",
            )
        )
    if report.get("n_models") is not None:
        rows.append(
            ReportRow(
                "Models",
                f"N = {report['n_models']}",
                f"{report.get('n_examples', '?')} forget examples, scored with "
                f"{estimator_words(report.get('estimator', '?'))}",
            )
        )
    return rows


def mia_rows(report: dict[str, Any]) -> list[ReportRow]:
    """The secondary membership-inference attacks (never part of the score), when reported.

    Reads `harness.scoring.mia.secondary_attacks`' dict under `mia`, to 3 decimals.
    """
    mia = report.get("mia") or {}
    rows: list[ReportRow] = []
    population = mia.get("population") or {}
    if population.get("accuracy") is not None:
        rows.append(
            ReportRow(
                "Population MIA accuracy",
                score(population["accuracy"], 3),
                "the starting kit's loss attack, forget vs test; 0.5 = no trace; "
                + _population_note(population),
            )
        )
    lira = mia.get("lira") or {}
    if lira.get("auc") is not None:
        rows.append(
            ReportRow(
                "Per-example LiRA AUC",
                score(lira["auc"], 3),
                "unlearned vs retrained; 0.5 = no trace",
            )
        )
    return rows


def _population_note(population: dict[str, Any]) -> str:
    """'± 0.020 over 8 models, 100 examples per class; retrained models 0.503 ± 0.015'."""
    spread = []
    if population.get("accuracy_std") is not None:
        spread.append(f"± {score(population['accuracy_std'], 3)}")
    if population.get("models") is not None:
        spread.append(f"over {population['models']} models")
    measured = [" ".join(spread)] if spread else []
    if population.get("n_per_class") is not None:
        measured.append(f"{population['n_per_class']} examples per class")
    retrained = population.get("retrained") or {}
    if retrained.get("accuracy") is not None:
        baseline = score(retrained["accuracy"], 3)
        if retrained.get("accuracy_std") is not None:
            baseline += f" ± {score(retrained['accuracy_std'], 3)}"
    else:
        baseline = "unavailable"
    parts = [", ".join(measured)] if measured else []
    return "; ".join([*parts, f"retrained models {baseline}"])


def secondary_rows(report: dict[str, Any]) -> list[ReportRow]:
    """The secondary metrics (never part of the score) under `secondary`, when reported.

    Reads `harness.scoring.secondary.secondary_metrics`' entries as they are: each brings
    its label, value, interval and one-line reading; 3 decimals. The two attacks already
    shown by `mia_rows` are left out here.
    """
    rows = []
    for name, entry in (report.get("secondary") or {}).items():
        if name in ("lira_auc", "population") or not isinstance(entry, dict):
            continue
        value, bounds = entry.get("value"), entry.get("interval") or (None, None)
        shown = "unavailable" if value is None else score(value, 3)
        spread = interval(bounds[0], bounds[1], 3) if value is not None else ""
        note = f"{spread} {entry.get('reading', '')}".strip()
        rows.append(ReportRow(str(entry.get("label", name)), shown, note))
    return rows
