"""The report's ``secondary`` key, from the evaluations the run already has.

    secondary_report(unlearned, reference, attacks=...) -> dict   (JSON-able)
    secondary_rows(report) -> [(label, value)] for the CLI's table

The metrics themselves (ToW, KLoM on the forget set and a retain sample, retain-set
membership drift, the LiRA and population attacks restated with readings) are
``harness.scoring.secondary.secondary_metrics``; this module only picks the arrays out of
the unlearned, retrained and original models' ``Evaluation``s. Beside the score, never
part of it. The dry-run's report and the worker's both call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.evaluate import Evaluation
from harness.scoring.secondary import secondary_metrics

if TYPE_CHECKING:
    from harness.reference.cache import Reference

__all__ = ["secondary_report", "secondary_rows"]


def _accuracies(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "forget": evaluation.forget_acc,
        "retain": evaluation.retain_acc,
        "test": evaluation.test_acc,
    }


def secondary_report(
    unlearned: Evaluation,
    reference: Reference,
    *,
    attacks: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every secondary metric of one split's runs against its reference (see module doc)."""
    retrained = reference.evaluation
    original = reference.original_evaluation
    return secondary_metrics(
        unlearned_accuracy=_accuracies(unlearned),
        retrained_accuracy=_accuracies(retrained),
        unlearned_forget_margins=unlearned.forget_confs,
        retrained_forget_margins=retrained.forget_confs,
        unlearned_retain_margins=unlearned.retain_confs,
        retrained_retain_margins=retrained.retain_confs,
        unlearned_test_losses=unlearned.test_losses,
        retrained_test_losses=retrained.test_losses,
        original_retain_margins=None if original is None else original.retain_confs,
        original_test_losses=None if original is None else original.test_losses,
        attacks=attacks,
        seed=seed,
    )


def secondary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """'label (beside the score)' -> 'value [interval]: reading', one per metric."""
    rows = []
    for entry in (report.get("secondary") or {}).values():
        value = entry.get("value")
        interval = entry.get("interval")
        text = "unavailable" if value is None else f"{value:.3f}"
        if value is not None and interval:
            text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        rows.append((f"{entry['label']} (beside the score)", f"{text}: {entry['reading']}"))
    return rows
