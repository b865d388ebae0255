"""Meta-evaluation of metrics: how well each one tells models that know the forget set from
models that never saw it, and whether that survives relearning and quantisation.

    LAB_METRICS                                   name -> LabMetric (estimators + secondary)
    badness(candidate, reference, original, ...)  -> {metric: how un-retrained it looks}
    auc(positive, negative)                       -> P(positive looks worse) + ties / 2
    lab_table(values)                             -> [row per metric]

The protocol (OpenUnlearning's meta-evaluation, Dorna et al. 2025, carried to classification):
a metric scores an ensemble of m "unlearned" models against m retrained reference models.
Knowledge present: m original models, scored as if they were an unlearned submission; they
should look bad. Knowledge absent: m retrained replicas held out from the reference; they
should look good. Over T trials (random reference subsets of the phase's N retrained
models, random candidate subsets), a metric's **faithfulness** is the AUC with which its
value ranks the original ensembles as worse than the held-out ones: 1 = always, 0.5 =
chance, below 0.5 = backwards. **Robustness**: the same AUC with both candidate populations
relearned for k steps on the forget set (`relearn`), and quantised to 8 bits (`quantize`);
the reference models are left as they are. Summaries as OpenUnlearning's: robustness =
harmonic mean of the two probes' AUCs, overall = harmonic mean of faithfulness and
robustness.

Each metric becomes a *badness* (larger = less like retraining), because they read in
different directions: 1 - F for the estimators; 1 - ToW; KLoM as it is; distance from the
no-trace value for the attacks (|AUC - 0.5|, |accuracy - 0.5|); |drift| for the retain-set
membership drift, which measures exposure of the retain set, not forgetting (an original
has no drift from itself, so it is expected to score backwards here).

Pure numpy on `Evaluation` arrays; no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.evaluate import Evaluation
from harness.scoring.estimators import ESTIMATORS, get_estimator
from harness.scoring.mia import losses_from_confidences, per_example_lira, population_mia
from harness.scoring.secondary import binned_klom, retain_drift, tug_of_war

__all__ = [
    "CONDITIONS",
    "LAB_METRICS",
    "LabMetric",
    "auc",
    "badness",
    "harmonic_mean",
    "lab_table",
    "population_accuracies",
]

CONDITIONS = ("clean", "relearn", "quantize")  # the candidates as trained, relearned, 8-bit


@dataclass(frozen=True)
class LabMetric:
    name: str
    label: str
    kind: str  # "estimator" (the score's F) or "secondary" (beside the score)
    badness: str  # how the metric's value becomes "larger = less like retraining"


LAB_METRICS: dict[str, LabMetric] = {
    **{name: LabMetric(name, f"F, {name}", "estimator", "1 - F") for name in ESTIMATORS},
    "tow": LabMetric("tow", "ToW", "secondary", "1 - ToW"),
    "klom_forget": LabMetric("klom_forget", "KLoM, forget set", "secondary", "KLoM"),
    "klom_retain": LabMetric("klom_retain", "KLoM, retain sample", "secondary", "KLoM"),
    "retain_drift": LabMetric("retain_drift", "Retain-set drift", "secondary", "|drift|"),
    "lira_auc": LabMetric("lira_auc", "Per-example LiRA AUC", "secondary", "|AUC - 0.5|"),
    "population": LabMetric(
        "population", "Population MIA accuracy", "secondary", "|accuracy - 0.5|"
    ),
}


def _accuracies(evaluation: Evaluation) -> dict[str, np.ndarray]:
    return {
        "forget": evaluation.forget_acc,
        "retain": evaluation.retain_acc,
        "test": evaluation.test_acc,
    }


def population_accuracies(evaluation: Evaluation, *, seed: int = 0) -> np.ndarray:
    """The population attack's accuracy per model [M] (forget vs test losses); it depends
    on one model alone, so the lab computes it once per model, not per trial."""
    if evaluation.test_losses is None:
        return np.full(evaluation.n_models, np.nan)
    forget = losses_from_confidences(evaluation.forget_confs)
    return np.asarray(
        [
            population_mia(forget[m], evaluation.test_losses[m], seed=seed).accuracy
            for m in range(evaluation.n_models)
        ]
    )


def badness(
    candidate: Evaluation,
    reference: Evaluation,
    original: Evaluation | None,
    *,
    population: np.ndarray,
    seed: int = 0,
) -> dict[str, float]:
    """Every lab metric's badness for `candidate` (m models) against `reference` (m).

    `population`: the candidates' per-model population-attack accuracies [m].
    NaN where a metric needs arrays the evaluations lack.
    """
    values: dict[str, float] = {}
    for name in ESTIMATORS:
        chosen = get_estimator(name)
        result = chosen(candidate.forget_confs, reference.forget_confs, seed=seed)
        values[name] = 1.0 - result.forget_quality
    tow, _ = tug_of_war(_accuracies(candidate), _accuracies(reference), n_bootstrap=0)
    values["tow"] = 1.0 - tow
    values["klom_forget"] = float(
        binned_klom(candidate.forget_confs, reference.forget_confs).mean()
    )
    values["klom_retain"] = (
        float(binned_klom(candidate.retain_confs, reference.retain_confs).mean())
        if candidate.retain_confs is not None and reference.retain_confs is not None
        else float("nan")
    )
    if (
        original is not None
        and original.retain_confs is not None
        and original.test_losses is not None
        and candidate.retain_confs is not None
        and candidate.test_losses is not None
    ):
        drift = retain_drift(
            original_retain_margins=original.retain_confs,
            original_test_losses=original.test_losses,
            unlearned_retain_margins=candidate.retain_confs,
            unlearned_test_losses=candidate.test_losses,
            n_bootstrap=0,
        )
        values["retain_drift"] = abs(drift["value"])
    else:
        values["retain_drift"] = float("nan")
    lira = per_example_lira(candidate.forget_confs, reference.forget_confs, seed=seed)
    values["lira_auc"] = abs(lira.auc - 0.5)
    values["population"] = abs(float(np.mean(population)) - 0.5)
    return values


def auc(positive: Sequence[float] | np.ndarray, negative: Sequence[float] | np.ndarray) -> float:
    """P(a positive's badness > a negative's) + half the ties; NaN if either is empty/NaN."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0 or not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def harmonic_mean(*values: float) -> float:
    """Harmonic mean; 0 if any value is 0, NaN if any is NaN."""
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        return float("nan")
    if (array <= 0).any():
        return 0.0
    return float(len(array) / np.sum(1.0 / array))


Values = Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]]
"""values[condition][population][metric] = badness per trial; population "original" or
"held_out"."""


def lab_table(values: Values) -> list[dict[str, Any]]:
    """One row per metric: faithfulness, the two probes' AUCs, robustness, overall, and the
    mean badness of each population as trained."""
    rows = []
    for name, metric in LAB_METRICS.items():
        aucs = {
            condition: auc(values[condition]["original"][name], values[condition]["held_out"][name])
            for condition in CONDITIONS
        }
        robustness = harmonic_mean(aucs["relearn"], aucs["quantize"])
        rows.append(
            {
                "metric": name,
                "label": metric.label,
                "kind": metric.kind,
                "badness": metric.badness,
                "faithfulness": aucs["clean"],
                "relearn": aucs["relearn"],
                "quantize": aucs["quantize"],
                "robustness": robustness,
                "overall": harmonic_mean(aucs["clean"], robustness),
                "original_mean": _mean(values["clean"]["original"][name]),
                "held_out_mean": _mean(values["clean"]["held_out"][name]),
            }
        )
    return rows


def _mean(values: Sequence[float]) -> float:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()) if array.size else float("nan")
