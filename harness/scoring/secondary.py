"""The field's standard secondary metrics, reported beside the score and never mixed into it.

    secondary_metrics(...) -> {"tow": ..., "klom_forget": ..., "klom_retain": ...,
                               "retain_drift": ..., "lira_auc": ..., "population": ...}

Every entry is ``{"label", "value", "interval", "reading", ...}``: ``value`` None (with the
reason in ``reading``) where the evaluation did not keep what the metric needs, ``interval``
a 95% bootstrap interval or None. All come from outputs the evaluation already has.

* ToW, "tug of war" (Zhao et al. 2024, as in their RUM code): the product over the forget,
  retain and test sets of ``1 - |acc_U - acc_R|``, the mean accuracies of the unlearned and
  the retrained models as fractions. 1 = every accuracy matches retraining. Interval:
  models of each side resampled.
* KLoM (Georgiev et al. 2025, App. E.1; the EasyDUB benchmark's metric): per example, the
  KL divergence KL(unlearned || retrained) between the two ensembles' distributions of the
  margin ``z_y - logsumexp_{k != y} z_k``, which is exactly the scorer's logit-scaled
  confidence; histograms of equal bins over the pooled range (values clipped to +-100),
  the retrained side floored at 1e-5 where the unlearned side has mass, as their
  reference implementation does. It uses 20 bins, meant for hundreds of models; with
  fewer, most of 20 bins hold one model or none, and every empty retrained bin facing an
  unlearned one costs p log(p / 1e-5): two halves of 8 retrained models scored about 6.5
  (mnist1d), as much as doing nothing. So the bins here are ``min(20, max(2, N // 8))``
  (N the smaller side), about 8 models a bin: the reference's 20 from N = 160 on.
  Reported: the mean over examples, its 95th percentile, the bins, and ``floor``, the same
  figure for two halves of the retrained models (what finite N gives a perfect
  unlearner: the binned KL is biased upwards, more at N/2 than at N). Interval: examples
  resampled. On the forget set and on a fixed sample of the retain set
  (``retain_confs``; absent from evaluations stored before it was kept).
* Retain-set membership drift (Hayes et al. 2024; TC-UMIA 2026: unlearning can expose the
  retain set): a loss-threshold attack's AUC for retain-sample members against test
  non-members, mean over the unlearned models, minus the same AUC of the original model.
  0 = the retain set is as exposed as before unlearning, > 0 more exposed; ``retrained``
  gives the retrained models' drift from the same original, the reference for reading it.
  Interval: unlearned models resampled.
* The per-example LiRA and the population attack of ``harness.scoring.mia`` (the numbers
  of the report's ``mia`` key), with their readings.

Pure numpy + scipy; no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.scoring.mia import losses_from_confidences

__all__ = [
    "KLOM_BINS",
    "binned_klom",
    "klom",
    "klom_bins",
    "membership_auc",
    "retain_drift",
    "secondary_metrics",
    "tug_of_war",
]

KLOM_BINS = 20  # the reference implementation's, reached from KLOM_MODELS_PER_BIN * 20 models
KLOM_MODELS_PER_BIN = 8
KLOM_CLIP = 100.0
KLOM_FLOOR = 1e-5
ACCURACY_SETS = ("forget", "retain", "test")
Interval = list[float]


def _percentile_interval(samples: np.ndarray, estimate: float, confidence: float) -> Interval:
    """Percentile interval of bootstrap samples, widened to hold the estimate."""
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return [float(min(low, estimate)), float(max(high, estimate))]


def _entry(
    label: str, value: float | None, interval: Interval | None, reading: str, **extra: Any
) -> dict[str, Any]:
    return {"label": label, "value": value, "interval": interval, "reading": reading, **extra}


def tug_of_war(
    unlearned: Mapping[str, np.ndarray],
    retrained: Mapping[str, np.ndarray],
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, Interval | None]:
    """ToW and its bootstrap interval from per-model accuracies (fractions).

    Args:
        unlearned, retrained: ``{"forget": [N], "retain": [N], "test": [N]}`` per side (the
            two sides may hold different numbers of models).
    """
    sides = []
    for name, side in (("unlearned", unlearned), ("retrained", retrained)):
        arrays = [np.asarray(side[part], dtype=np.float64) for part in ACCURACY_SETS]
        shapes = {array.shape for array in arrays}
        if len(shapes) != 1 or arrays[0].ndim != 1 or arrays[0].size < 1:
            raise ValueError(
                f"{name} accuracies must be one per model on each of {ACCURACY_SETS}; "
                f"got shapes {[array.shape for array in arrays]}"
            )
        stacked = np.stack(arrays)  # [3, N]
        if not np.isfinite(stacked).all():
            raise ValueError(f"{name} accuracies contain NaN or infinity")
        sides.append(stacked)
    first, second = sides
    value = float(np.prod(1.0 - np.abs(first.mean(axis=1) - second.mean(axis=1))))
    if n_bootstrap < 1:
        return value, None
    rng = np.random.default_rng([seed, 0x70E])
    rows_1 = rng.integers(0, first.shape[1], size=(n_bootstrap, first.shape[1]))
    rows_2 = rng.integers(0, second.shape[1], size=(n_bootstrap, second.shape[1]))
    means_1 = first[:, rows_1].mean(axis=2)  # [3, B]
    means_2 = second[:, rows_2].mean(axis=2)
    samples = np.prod(1.0 - np.abs(means_1 - means_2), axis=0)
    return value, _percentile_interval(samples, value, confidence)


def klom_bins(n_models: int) -> int:
    """Bins for N models a side: about KLOM_MODELS_PER_BIN a bin, 2 to KLOM_BINS."""
    return int(min(KLOM_BINS, max(2, n_models // KLOM_MODELS_PER_BIN)))


def binned_klom(
    unlearned: np.ndarray, retrained: np.ndarray, *, bins: int | None = None
) -> np.ndarray:
    """Per-example KL(unlearned || retrained) of binned margins, float64 [S] >= 0.

    Args:
        unlearned: [N_u, S] margins; retrained: [N_r, S] margins (finite).
        bins: equal bins over each example's pooled range; default ``klom_bins`` of the
            smaller side.
    """
    if bins is None:
        bins = klom_bins(min(np.shape(unlearned)[0], np.shape(retrained)[0]))
    first = np.clip(np.asarray(unlearned, dtype=np.float64), -KLOM_CLIP, KLOM_CLIP)
    second = np.clip(np.asarray(retrained, dtype=np.float64), -KLOM_CLIP, KLOM_CLIP)
    low = np.minimum(first.min(axis=0), second.min(axis=0))
    high = np.maximum(first.max(axis=0), second.max(axis=0))
    width = np.where(high > low, high - low, 1.0)
    n_examples = first.shape[1]

    def histogram(values: np.ndarray) -> np.ndarray:
        # Equal bins over [low, high]; the maximum falls in the last bin, as np.histogram.
        index = np.clip(np.floor((values - low) / width * bins), 0, bins - 1)
        flat = (index.astype(np.int64) + bins * np.arange(n_examples)).ravel()
        counts = np.bincount(flat, minlength=bins * n_examples).reshape(n_examples, -1)
        return np.asarray(counts / values.shape[0])

    p, q = histogram(first), histogram(second)
    q = np.where(p > 0, np.maximum(q, KLOM_FLOOR), q)
    q = q / q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    result: np.ndarray = np.maximum(terms.sum(axis=1), 0.0)
    return result


def klom(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """KLoM over a set: mean, 95th percentile, interval of the mean, and the N/2 floor.

    Args:
        unlearned, retrained: [N, S] margins (logit-scaled confidences) of each side.
    """
    unlearned = np.atleast_2d(np.asarray(unlearned, dtype=np.float64))
    retrained = np.atleast_2d(np.asarray(retrained, dtype=np.float64))
    if unlearned.shape[1] != retrained.shape[1] or min(unlearned.shape) < 1:
        raise ValueError(
            f"need margins [N, S] on both sides over the same S examples; got {unlearned.shape} "
            f"and {retrained.shape}"
        )
    if not (np.isfinite(unlearned).all() and np.isfinite(retrained).all()):
        raise ValueError("margins contain NaN or infinity")
    per_example = binned_klom(unlearned, retrained)
    value = float(per_example.mean())
    interval = None
    if n_bootstrap >= 1:
        rng = np.random.default_rng([seed, 0x1C1])
        draws = rng.integers(0, per_example.size, size=(n_bootstrap, per_example.size))
        interval = _percentile_interval(per_example[draws].mean(axis=1), value, confidence)
    floor = None
    half = retrained.shape[0] // 2
    if half >= 2:
        order = np.random.default_rng([seed, 0xF1]).permutation(retrained.shape[0])
        halves = retrained[order[:half]], retrained[order[half : 2 * half]]
        floor = float(binned_klom(*halves).mean())
    return {
        "value": value,
        "interval": interval,
        "p95": float(np.percentile(per_example, 95)),
        "bins": klom_bins(min(unlearned.shape[0], retrained.shape[0])),
        "floor": floor,
        "n_examples": int(per_example.size),
    }


def membership_auc(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> np.ndarray:
    """AUC of the attack "lower loss = member", per model: [M, R] and [M, T] in, [M] out.

    P(a member's loss < a non-member's loss) + half the ties (Mann-Whitney U / (R T)).
    """
    members = np.atleast_2d(np.asarray(member_losses, dtype=np.float64))
    others = np.atleast_2d(np.asarray(nonmember_losses, dtype=np.float64))
    n_members, n_others = members.shape[1], others.shape[1]
    from scipy import stats  # here, not at import: `unlearn` starts without scipy

    ranks = stats.rankdata(np.concatenate([members, others], axis=1), axis=1)  # ties: mean
    # Members with *larger* losses rank higher; the attack calls low losses members.
    member_rank_sum = ranks[:, :n_members].sum(axis=1)
    u_larger = member_rank_sum - n_members * (n_members + 1) / 2.0
    auc: np.ndarray = 1.0 - u_larger / (n_members * n_others)
    return auc


def retain_drift(
    *,
    original_retain_margins: np.ndarray,
    original_test_losses: np.ndarray,
    unlearned_retain_margins: np.ndarray,
    unlearned_test_losses: np.ndarray,
    retrained_retain_margins: np.ndarray | None = None,
    retrained_test_losses: np.ndarray | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Mean membership AUC (retain sample vs test) of the unlearned models minus the original's.

    Args:
        original_retain_margins [R] or [K, R], original_test_losses [T] or [K, T]: the
            original model's (K originals: one row each).
        unlearned_retain_margins [N, R], unlearned_test_losses [N, T]: per unlearned model.
        retrained_*: the same for the retrained models, for the reference drift.
    """
    # K originals (rows): their mean AUC. Runs are spread evenly over them, so this is the
    # mean of each run's drift from its own original.
    original = float(
        membership_auc(
            losses_from_confidences(np.atleast_2d(original_retain_margins)),
            np.atleast_2d(original_test_losses),
        ).mean()
    )
    aucs = membership_auc(
        losses_from_confidences(np.atleast_2d(unlearned_retain_margins)),
        np.atleast_2d(unlearned_test_losses),
    )
    value = float(aucs.mean() - original)
    interval = None
    if n_bootstrap >= 1:
        rng = np.random.default_rng([seed, 0xD81F])
        draws = rng.integers(0, aucs.size, size=(n_bootstrap, aucs.size))
        interval = _percentile_interval(aucs[draws].mean(axis=1) - original, value, confidence)
    reference = None
    if retrained_retain_margins is not None and retrained_test_losses is not None:
        reference = float(
            membership_auc(
                losses_from_confidences(np.atleast_2d(retrained_retain_margins)),
                np.atleast_2d(retrained_test_losses),
            ).mean()
            - original
        )
    return {
        "value": value,
        "interval": interval,
        "original_auc": original,
        "unlearned_auc": float(aucs.mean()),
        "retrained": reference,
    }


def secondary_metrics(
    *,
    unlearned_accuracy: Mapping[str, np.ndarray],
    retrained_accuracy: Mapping[str, np.ndarray],
    unlearned_forget_margins: np.ndarray,
    retrained_forget_margins: np.ndarray,
    unlearned_retain_margins: np.ndarray | None = None,
    retrained_retain_margins: np.ndarray | None = None,
    unlearned_test_losses: np.ndarray | None = None,
    original_retain_margins: np.ndarray | None = None,
    original_test_losses: np.ndarray | None = None,
    retrained_test_losses: np.ndarray | None = None,
    attacks: Mapping[str, Any] | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every secondary metric with its value, interval and one-line reading (see module doc).

    ``attacks`` is ``harness.scoring.mia.secondary_attacks``' dict (the report's ``mia``),
    restated here with readings; None leaves those two entries unavailable.
    """
    tow_value, tow_interval = tug_of_war(
        unlearned_accuracy, retrained_accuracy, n_bootstrap=n_bootstrap, seed=seed
    )
    result = {
        "tow": _entry(
            "ToW (accuracy match with retraining)",
            tow_value,
            tow_interval,
            "product of 1 - |accuracy gap| on forget, retain and test; 1 = as retrained",
        )
    }
    forget = klom(
        unlearned_forget_margins, retrained_forget_margins, n_bootstrap=n_bootstrap, seed=seed
    )
    result["klom_forget"] = _entry(
        "KLoM, forget set",
        forget.pop("value"),
        forget.pop("interval"),
        _klom_reading(forget["floor"]),
        **forget,
    )
    if unlearned_retain_margins is not None and retrained_retain_margins is not None:
        retain = klom(
            unlearned_retain_margins, retrained_retain_margins, n_bootstrap=n_bootstrap, seed=seed
        )
        result["klom_retain"] = _entry(
            "KLoM, retain sample",
            retain.pop("value"),
            retain.pop("interval"),
            _klom_reading(retain["floor"]),
            **retain,
        )
    else:
        result["klom_retain"] = _entry(
            "KLoM, retain sample",
            None,
            None,
            "unavailable: these evaluations did not keep retain-set margins",
        )
    if (
        unlearned_retain_margins is not None
        and unlearned_test_losses is not None
        and original_retain_margins is not None
        and original_test_losses is not None
    ):
        drift = retain_drift(
            original_retain_margins=original_retain_margins,
            original_test_losses=original_test_losses,
            unlearned_retain_margins=unlearned_retain_margins,
            unlearned_test_losses=unlearned_test_losses,
            retrained_retain_margins=retrained_retain_margins,
            retrained_test_losses=retrained_test_losses,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
        reference = drift["retrained"]
        result["retain_drift"] = _entry(
            "Retain-set membership drift",
            drift.pop("value"),
            drift.pop("interval"),
            "loss attack AUC (retain vs test), unlearned minus original; 0 = unchanged, "
            "> 0 = retain set more exposed"
            + ("" if reference is None else f"; retrained models {reference:+.3f}"),
            **drift,
        )
    else:
        result["retain_drift"] = _entry(
            "Retain-set membership drift",
            None,
            None,
            "unavailable: needs retain-set margins and test losses of the unlearned and "
            "the original model",
        )
    result.update(_attack_entries(attacks or {}))
    return result


def _klom_reading(floor: float | None) -> str:
    text = "mean KL of unlearned vs retrained margin distributions per example; 0 = same"
    if floor is not None:
        text += f"; retrained halves give {floor:.3f}"
    return text


def _attack_entries(attacks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    lira = attacks.get("lira") or {}
    population = attacks.get("population") or {}
    retrained = population.get("retrained") or {}
    baseline = retrained.get("accuracy")
    return {
        "lira_auc": _entry(
            "Per-example LiRA AUC",
            lira.get("auc"),
            None,
            "unlearned vs retrained models, Gaussian likelihood ratio per example; 0.5 = no trace"
            if lira
            else "unavailable: too few models",
        ),
        "population": _entry(
            "Population MIA accuracy",
            population.get("accuracy"),
            None,
            (
                "loss attack, forget vs test; 0.5 = no trace"
                + ("" if baseline is None else f"; retrained models {baseline:.3f}")
            )
            if population
            else "unavailable: no test-set losses",
        ),
    }
