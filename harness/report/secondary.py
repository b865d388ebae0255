"""The report's ``secondary`` section, from the evaluations the run already has.

    secondary_report(unlearned, reference, attacks=...) -> dict   (JSON-able)
    secondary_rows(report) -> [(label, value)] for the CLI's table (extra figures too)

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
    from harness.report.schema import EvaluationReport

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


def secondary_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    """'label (beside the score)' -> 'value [interval]: reading', one per secondary metric
    and extra figure."""
    rows = []
    for figure in report.beside_score.values():
        text = "unavailable" if figure.value is None else f"{figure.value:.3f}"
        if figure.value is not None and figure.interval:
            text += f" [{figure.interval[0]:.3f}, {figure.interval[1]:.3f}]"
        rows.append((f"{figure.label} (beside the score)", f"{text}: {figure.reading}"))
    return rows
