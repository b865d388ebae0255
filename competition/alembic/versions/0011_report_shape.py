"""results.report: every stored report rewritten in the one report shape (EvaluationReport)

Revision ID: 0011_report_shape
Revises: 0010_phase_preparation
Create Date: 2026-12-07 05:00:00

Reports were stored flat: `ScoreReport.to_dict()` (older rows with the accuracies under
their first names, `retain_accuracy_unlearned`, ...) plus the gate's `run_seconds_median`,
`retrain_seconds`, `run_fraction`, `max_run_fraction` and `eligible`, beside `mia`,
`secondary`, `racing`, `predicted` and `score_at_n`. Each is rewritten once in the shape of
`harness.report.schema.EvaluationReport` (the score's keys stay where the API documents
them; the accuracies go under `accuracy`, the gate under `efficiency`), so no reader keeps
fallbacks to old names. What a row never had stays absent (None): forget accuracy, the run
count and the mean and largest run time, the provenance. A row without a report (`{}`)
gets one from its columns. The transformation is written out here, not imported: a
migration keeps the shapes of its own day. The downgrade writes the flat shape back.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_report_shape"
down_revision: str | None = "0010_phase_preparation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORE = (
    "estimator",
    "forget_quality",
    "final_score",
    "forget_quality_ci",
    "final_score_ci",
    "noise_floor",
    "n_models",
    "n_examples",
    "n_bootstrap",
    "confidence",
    "seed",
    "epsilons",
    "points",
)
# The flat accuracy keys by (side, set), newest name first.
ACCURACY = {
    ("unlearned", "retain"): ("unlearned_retain_acc", "retain_accuracy_unlearned"),
    ("retrained", "retain"): ("retrained_retain_acc", "retain_accuracy_retrained"),
    ("unlearned", "test"): ("unlearned_test_acc", "test_accuracy_unlearned"),
    ("retrained", "test"): ("retrained_test_acc", "test_accuracy_retrained"),
}
POPULATION = ("accuracy", "accuracy_std", "models", "n_per_class")
LIRA = ("auc", "tpr_at_fpr", "n_scores")

results = sa.table(
    "results",
    sa.column("id", sa.Integer),
    sa.column("estimator", sa.String),
    sa.column("score", sa.Float),
    sa.column("ci_low", sa.Float),
    sa.column("ci_high", sa.Float),
    sa.column("forget_quality", sa.Float),
    sa.column("noise_floor", sa.Float),
    sa.column("report", sa.JSON),
)


def _first(old: dict[str, Any], names: Sequence[str]) -> Any:
    return next((old[name] for name in names if old.get(name) is not None), None)


def _pick(old: Any, keys: Sequence[str]) -> dict[str, Any]:
    return {key: old[key] for key in keys if key in old}


def _population(old: Any) -> dict[str, Any] | None:
    if not isinstance(old, dict) or old.get("accuracy") is None:
        return None
    side = _pick(old, POPULATION)
    retrained = old.get("retrained")
    if isinstance(retrained, dict) and retrained.get("accuracy") is not None:
        side["retrained"] = _pick(retrained, POPULATION)
    return side


def _racing(old: Any) -> dict[str, Any] | None:
    if not isinstance(old, dict) or old.get("n") is None:
        return None
    return {
        "n": int(old["n"]),
        "n_total": int(old.get("n_total") or old["n"]),
        "provisional": bool(old.get("provisional", False)),
        "reason": str(old.get("reason") or ""),
        "profile": [_pick(r, ("n", "score", "low", "high")) for r in old.get("profile") or []],
    }


def upgraded(old: dict[str, Any], row: Any) -> dict[str, Any]:
    """The report of `row` (a results row) in the new shape; one already in it is kept."""
    if "provenance" in old:
        return old
    new: dict[str, Any] = {"status": "scored", **_pick(old, SCORE)}
    new["estimator"] = old.get("estimator") or row.estimator
    new["final_score"] = old.get("final_score", row.score)
    new.setdefault("forget_quality", row.forget_quality)
    new.setdefault("noise_floor", row.noise_floor)
    if new.get("final_score_ci") is None and None not in (row.ci_low, row.ci_high):
        new["final_score_ci"] = [row.ci_low, row.ci_high]
    found = {where: _first(old, names) for where, names in ACCURACY.items()}
    if None not in found.values():
        new["accuracy"] = {
            side: {kind: found[(side, kind)] for kind in ("retain", "test")}
            for side in ("unlearned", "retrained")
        }
    if None not in (old.get(k) for k in ("run_seconds_median", "retrain_seconds", "run_fraction")):
        fraction, limit = float(old["run_fraction"]), old.get("max_run_fraction")
        new["efficiency"] = {
            "run_seconds_median": old["run_seconds_median"],
            "retrain_seconds": old["retrain_seconds"],
            "fraction": fraction,
            "max_fraction": fraction if limit is None else limit,
            "passed": bool(old.get("eligible", True)),
        }
    mia: dict[str, Any] = old["mia"] if isinstance(old.get("mia"), dict) else {}
    lira = mia.get("lira")
    new["mia"] = {
        "lira": _pick(lira, LIRA) if isinstance(lira, dict) and "auc" in lira else None,
        "population": _population(mia.get("population")),
    }
    new["secondary"] = {
        name: {"value": None, **entry}
        for name, entry in (old.get("secondary") or {}).items()
        if isinstance(entry, dict) and "label" in entry
    }
    race = _racing(old.get("racing"))
    new["racing"] = race
    new["replicas"] = race["n_total"] if race else new.get("n_models")
    new["predicted"] = bool(old.get("predicted", False))
    at_n = old.get("score_at_n")
    new["score_at_n"] = (
        _pick(at_n, ("n", "final_score", "final_score_ci")) if isinstance(at_n, dict) else None
    )
    new["provenance"] = {}
    return new


def downgraded(new: dict[str, Any]) -> dict[str, Any]:
    """The flat shape of before, from the new one."""
    if "provenance" not in new:
        return new
    old: dict[str, Any] = _pick(new, SCORE)
    accuracy = new.get("accuracy")
    if accuracy:
        for (side, kind), names in ACCURACY.items():
            old[names[0]] = accuracy[side][kind]
        old["retain_ratio"] = old["unlearned_retain_acc"] / old["retrained_retain_acc"]
        old["test_ratio"] = old["unlearned_test_acc"] / old["retrained_test_acc"]
    gate = new.get("efficiency")
    if gate:
        old.update(
            run_seconds_median=gate["run_seconds_median"],
            retrain_seconds=gate["retrain_seconds"],
            run_fraction=gate["fraction"],
            max_run_fraction=gate["max_fraction"],
            eligible=gate["passed"],
        )
    old.update(mia=new.get("mia") or {}, secondary=new.get("secondary") or {})
    for key in ("racing", "score_at_n"):
        if new.get(key) is not None:
            old[key] = new[key]
    if new.get("predicted"):
        old["predicted"] = True
    return old


def _rewrite(change: Any) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            results.c.id,
            results.c.estimator,
            results.c.score,
            results.c.ci_low,
            results.c.ci_high,
            results.c.forget_quality,
            results.c.noise_floor,
            results.c.report,
        )
    ).all()
    for row in rows:
        report = change(dict(row.report or {}), row)
        if report != row.report:
            conn.execute(results.update().where(results.c.id == row.id).values(report=report))


def upgrade() -> None:
    _rewrite(upgraded)


def downgrade() -> None:
    _rewrite(lambda report, row: downgraded(report))
