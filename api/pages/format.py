"""Numbers as a person reads them: scores with intervals, ratios, durations, time stamps.

Jinja filters (registered in `api.pages.render`), and `read_report` with `report_rows`,
`mia_rows` and `secondary_rows`, which turn a stored report (`harness.report.schema.
EvaluationReport`) into labelled rows; the gate's verdict is the report's own
(`Gate.verdict`). Precision: scores, intervals and the noise floor to 4 decimals (as the
leaderboard ranks them), accuracy ratios to 3, accuracies and efficiency to whole percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.pages.words import estimator_words
from harness.report.schema import EvaluationReport, Originals, Population

__all__ = [
    "ReportRow",
    "duration",
    "interval",
    "mia_rows",
    "percent",
    "read_report",
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


def read_report(stored: dict[str, Any]) -> EvaluationReport:
    """A result row's stored report as the model every reader uses (`harness.report.schema`)."""
    return EvaluationReport.model_validate(stored)


def report_rows(report: EvaluationReport) -> list[ReportRow]:
    """The score, what it is made of, and the efficiency figures, in reading order."""
    rows = [
        ReportRow("Final score", score(report.final_score), _interval_note(report.final_score_ci)),
        ReportRow(
            "Forget quality F",
            score(report.forget_quality),
            _interval_note(report.forget_quality_ci),
        ),
    ]
    if report.noise_floor is not None:
        rows.append(
            ReportRow(
                "Noise floor",
                score(report.noise_floor),
                "what a perfect unlearner scores with this estimator (retrained vs retrained)",
            )
        )
    accuracy = report.accuracy
    if accuracy is not None:
        u, r = accuracy.unlearned, accuracy.retrained
        rows += [
            ReportRow(
                "Retain accuracy ratio",
                score(accuracy.retain_ratio, 3),
                f"unlearned {percent(u.retain)} vs retrained {percent(r.retain)}",
            ),
            ReportRow(
                "Test accuracy ratio",
                score(accuracy.test_ratio, 3),
                f"unlearned {percent(u.test)} vs retrained {percent(r.test)}",
            ),
        ]
    if report.efficiency is not None:
        rows.append(
            ReportRow(
                "Efficiency",
                percent(report.efficiency.fraction) + " of one retraining",
                report.efficiency.verdict(),
            )
        )
    if report.n_models is not None:
        rows.append(
            ReportRow(
                "Models",
                f"N = {report.n_models}",
                f"{report.n_examples if report.n_examples is not None else '?'} forget "
                f"examples, scored with {estimator_words(report.estimator)}",
            )
        )
    if report.originals is not None:
        rows.append(_originals_row(report.originals))
    return rows


def _originals_row(originals: Originals) -> ReportRow:
    """Under several original models: each one's score and their spread, beside the score."""
    scores = ", ".join(score(row.final_score, 3) for row in originals.scores)
    spread = ""
    if originals.range is not None:
        spread = f" (range {interval(*originals.range, 3)}"
        spread += "" if originals.sd is None else f", sd {score(originals.sd, 3)}"
        spread += ")"
    return ReportRow(
        "Original models",
        f"K = {originals.count}",
        f"score per original {scores}{spread}: the runs are spread over {originals.count} "
        "models trained with their own seeds, so the score does not rest on one of them",
    )


def _interval_note(bounds: tuple[float, float] | None) -> str:
    return "" if bounds is None else f"95% interval {interval(*bounds)}"


def mia_rows(report: EvaluationReport) -> list[ReportRow]:
    """The secondary membership-inference attacks (never part of the score), when reported,
    to 3 decimals (`harness.scoring.mia.secondary_attacks` under `mia`)."""
    rows: list[ReportRow] = []
    population = report.mia.population
    if population is not None:
        rows.append(
            ReportRow(
                "Population MIA accuracy",
                score(population.accuracy, 3),
                "the starting kit's loss attack, forget vs test; 0.5 = no trace; "
                + _population_note(population),
            )
        )
    if report.mia.lira is not None:
        rows.append(
            ReportRow(
                "Per-example LiRA AUC",
                score(report.mia.lira.auc, 3),
                "unlearned vs retrained; 0.5 = no trace",
            )
        )
    return rows


def _population_note(population: Population) -> str:
    """'± 0.020 over 8 models, 100 examples per class; retrained models 0.503 ± 0.015'."""
    spread = []
    if population.accuracy_std is not None:
        spread.append(f"± {score(population.accuracy_std, 3)}")
    if population.models is not None:
        spread.append(f"over {population.models} models")
    measured = [" ".join(spread)] if spread else []
    if population.n_per_class is not None:
        measured.append(f"{population.n_per_class} examples per class")
    retrained = population.retrained
    if retrained is not None:
        baseline = score(retrained.accuracy, 3)
        if retrained.accuracy_std is not None:
            baseline += f" ± {score(retrained.accuracy_std, 3)}"
    else:
        baseline = "unavailable"
    parts = [", ".join(measured)] if measured else []
    return "; ".join([*parts, f"retrained models {baseline}"])


def secondary_rows(report: EvaluationReport) -> list[ReportRow]:
    """The secondary metrics and extra figures (never part of the score), when reported.

    Each brings its label, value, interval and one-line reading; 3 decimals. The two
    attacks already shown by `mia_rows` are left out here.
    """
    rows = []
    for name, figure in report.beside_score.items():
        if name in ("lira_auc", "population"):
            continue
        shown = "unavailable" if figure.value is None else score(figure.value, 3)
        spread = (
            interval(*figure.interval, 3)
            if figure.value is not None and figure.interval is not None
            else ""
        )
        note = f"{spread} {figure.reading}".strip()
        rows.append(ReportRow(figure.label, shown, note))
    return rows
