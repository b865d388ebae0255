"""Secondary membership-inference attacks, reported beside the score and never mixed into it.

* ``population_mia``: the NeurIPS 2023 starting kit's attack. A logistic regression on
  per-example cross-entropy losses separates forget examples (members before unlearning)
  from test examples (never members); its cross-validated accuracy is reported. 0.5 means
  the losses carry no trace of the forget set; retraining scores about 0.5.
  Input: losses of one model, [n_forget] and [n_test]; see ``cross_entropy_losses`` and
  ``losses_from_confidences`` (the same loss, from the scorer's logit-scaled confidences).
* ``per_example_lira``: a per-example likelihood-ratio attack in the style of LiRA (Carlini
  et al. 2022) and U-LiRA (Hayes et al. 2024): for every forget example, Gaussians fitted to
  the logit-scaled confidences of half of the unlearned and half of the retrained models
  score the other half; the pooled scores give an ROC curve. AUC 0.5 and TPR = FPR mean no
  model-level trace. Input: the scorer's two [N, S] confidence matrices.

``secondary_attacks`` is what every report carries under ``mia`` (the dry-run's report and
table, the server's reports, the submission page, ``unlearn status``): the LiRA on the
confidence matrices and the population attack on the first ``POPULATION_MODELS`` models of
each side, whose forget losses come from their confidences and whose test losses are kept
by the evaluation (``harness.evaluate.Evaluation.test_losses``).

Pure numpy + scikit-learn; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.scoring.points import check_confidence_pair

__all__ = [
    "LiraResult",
    "PopulationAttackResult",
    "POPULATION_MODELS",
    "cross_entropy_losses",
    "losses_from_confidences",
    "per_example_lira",
    "population_mia",
    "secondary_attacks",
]

LOW_FPRS = (0.001, 0.01, 0.1)
POPULATION_MODELS = 8  # models per side the population attack runs on (10-fold CV each)


def cross_entropy_losses(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy, float64 [n], from logits [n, K] and labels [n]."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(
            f"need logits [n, K] and labels [n]; got {logits.shape} and {labels.shape}"
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    losses: np.ndarray = log_norm - shifted[np.arange(labels.size), labels]
    return losses


def losses_from_confidences(confs: np.ndarray) -> np.ndarray:
    """Cross-entropy of the true label from its logit-scaled confidence, float64, same shape.

    With p the true label's probability, conf = log p - log(1 - p), so the loss
    -log p = log(1 + exp(-conf)): the forget losses of models whose evaluation kept only
    their confidences (the guard inside ``logit_scaled_confidence`` moves it by < 1e-40).
    """
    losses: np.ndarray = np.logaddexp(0.0, -np.asarray(confs, dtype=np.float64))
    return losses


@dataclass(frozen=True)
class PopulationAttackResult:
    accuracy: float  # mean cross-validated accuracy; 0.5 = chance
    accuracy_std: float
    n_per_class: int  # examples per class after balancing

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "accuracy_std": self.accuracy_std,
            "n_per_class": self.n_per_class,
        }


def population_mia(
    forget_losses: np.ndarray, test_losses: np.ndarray, *, n_splits: int = 10, seed: int = 0
) -> PopulationAttackResult:
    """The starting kit's attack: forget vs test from losses, cross-validated accuracy.

    The larger set is subsampled (seeded) to the size of the smaller, so chance is 0.5.
    """
    forget_losses = np.asarray(forget_losses, dtype=np.float64).ravel()
    test_losses = np.asarray(test_losses, dtype=np.float64).ravel()
    if min(forget_losses.size, test_losses.size) < 2:
        raise ValueError(
            f"need at least 2 losses on each side; got {forget_losses.size} forget and "
            f"{test_losses.size} test"
        )
    if not (np.isfinite(forget_losses).all() and np.isfinite(test_losses).all()):
        raise ValueError("losses contain NaN or infinity")
    # scikit-learn (and the scipy it loads) is imported by the attacks, not the module:
    # `harness.evaluate` needs only the losses, and a dry-run's start-up need not wait.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit

    rng = np.random.default_rng(seed)
    size = min(forget_losses.size, test_losses.size)
    forget = rng.choice(forget_losses, size=size, replace=False)
    test = rng.choice(test_losses, size=size, replace=False)
    features = np.concatenate([forget, test])[:, None]
    members = np.concatenate([np.ones(size, dtype=int), np.zeros(size, dtype=int)])
    splits = StratifiedShuffleSplit(n_splits=n_splits, random_state=seed)
    # The starting kit's cross_val_score(LogisticRegression(), ...) fold by fold, without
    # its per-fold overhead; newton-cholesky reaches the same optimum as the default lbfgs
    # about 3x faster on this one-feature problem (the report runs it for 16 models).
    scores = np.asarray(
        [
            LogisticRegression(solver="newton-cholesky")
            .fit(features[train], members[train])
            .score(features[held_out], members[held_out])
            for train, held_out in splits.split(features, members)
        ]
    )
    return PopulationAttackResult(float(scores.mean()), float(scores.std()), size)


@dataclass(frozen=True)
class LiraResult:
    auc: float  # 0.5 = the attack cannot tell unlearned from retrained models
    tpr_at_fpr: dict[float, float]  # best TPR with FPR <= each level in LOW_FPRS
    n_scores: int  # (model, example) pairs scored per side

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "tpr_at_fpr": {str(level): value for level, value in self.tpr_at_fpr.items()},
            "n_scores": self.n_scores,
        }


Fit = tuple[np.ndarray, np.ndarray]  # per-example mean and std, each [S]


def _fit(values: np.ndarray) -> Fit:
    # [n, S] -> per-example mean and std; the floor keeps a constant column finite.
    return values.mean(axis=0), np.maximum(values.std(axis=0), 1e-9)


def _log_ratio(values: np.ndarray, unlearned_fit: Fit, retrained_fit: Fit) -> np.ndarray:
    (mean_u, std_u), (mean_r, std_r) = unlearned_fit, retrained_fit
    z_u, z_r = (values - mean_u) / std_u, (values - mean_r) / std_r
    ratio: np.ndarray = 0.5 * (z_r * z_r - z_u * z_u) + np.log(std_r / std_u)
    return ratio


def per_example_lira(
    unlearned_confs: np.ndarray, retrained_confs: np.ndarray, *, seed: int = 0
) -> LiraResult:
    """LiRA-style per-example attack on unlearned vs retrained models, cross-fitted halves.

    Args:
        unlearned_confs, retrained_confs: [N, S] logit-scaled confidences (N >= 4).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    unlearned, retrained = check_confidence_pair(unlearned_confs, retrained_confs)
    n_models = unlearned.shape[0]
    half = n_models // 2
    order = np.random.default_rng(seed).permutation(n_models)
    halves = (order[:half], order[half : 2 * half])
    scores, labels = [], []
    for fit_rows, score_rows in (halves, halves[::-1]):
        unlearned_fit, retrained_fit = _fit(unlearned[fit_rows]), _fit(retrained[fit_rows])
        for matrix, label in ((unlearned, 1), (retrained, 0)):
            values = _log_ratio(matrix[score_rows], unlearned_fit, retrained_fit).ravel()
            scores.append(values)
            labels.append(np.full(values.size, label))
    all_scores, all_labels = np.concatenate(scores), np.concatenate(labels)
    fpr, tpr, _ = roc_curve(all_labels, all_scores)
    tpr_at = {level: float(tpr[fpr <= level].max()) for level in LOW_FPRS}
    return LiraResult(float(roc_auc_score(all_labels, all_scores)), tpr_at, int(all_labels.sum()))


def _population_over_models(
    forget_losses: np.ndarray, test_losses: np.ndarray, *, seed: int
) -> dict[str, Any] | None:
    """The population attack on each of the first POPULATION_MODELS models: the mean of
    their accuracies, its std over models, how many models and examples per class."""
    n_models = min(forget_losses.shape[0], test_losses.shape[0], POPULATION_MODELS)
    if n_models < 1:
        return None
    try:
        results = [
            population_mia(forget_losses[m], test_losses[m], seed=seed) for m in range(n_models)
        ]
    except ValueError:  # fewer than 2 examples a side, or non-finite losses
        return None
    accuracies = np.asarray([result.accuracy for result in results])
    return {
        "accuracy": float(accuracies.mean()),
        "accuracy_std": float(accuracies.std()),
        "models": n_models,
        "n_per_class": results[0].n_per_class,
    }


def secondary_attacks(
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    *,
    unlearned_test_losses: np.ndarray | None = None,
    retrained_test_losses: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """What a report shows beside the score, never part of it.

    Args:
        unlearned_confs, retrained_confs: the scorer's [N, S] forget-set confidences.
        unlearned_test_losses, retrained_test_losses: [N, T] test-set cross-entropy losses
            (``Evaluation.test_losses``); None where the evaluation predates them.

    Returns ``{"lira": ..., "population": ...}``. ``lira``: ``LiraResult.to_dict()``, None
    under 4 models a side. ``population``: the attack on the unlearned models, ``accuracy``
    (mean over models), ``accuracy_std`` (over models), ``models`` and ``n_per_class``,
    with the same four numbers for the retrained models under ``retrained`` (the baseline,
    about 0.5; None where their test losses are missing); None where the unlearned
    models' test losses are missing or too few examples. Unavailable attacks are None, not
    errors.
    """
    try:
        lira: dict[str, Any] | None = per_example_lira(
            unlearned_confs, retrained_confs, seed=seed
        ).to_dict()
    except ValueError:
        lira = None
    population: dict[str, Any] | None = None
    if unlearned_test_losses is not None:
        population = _population_over_models(
            losses_from_confidences(np.atleast_2d(unlearned_confs)),
            np.atleast_2d(np.asarray(unlearned_test_losses)),
            seed=seed,
        )
    if population is not None:
        population["retrained"] = (
            None
            if retrained_test_losses is None
            else _population_over_models(
                losses_from_confidences(np.atleast_2d(retrained_confs)),
                np.atleast_2d(np.asarray(retrained_test_losses)),
                seed=seed,
            )
        )
    return {"lira": lira, "population": population}
