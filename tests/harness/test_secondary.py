"""The secondary metrics (ToW, KLoM, retain-set drift) on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from harness.scoring.secondary import (
    binned_klom,
    klom,
    klom_bins,
    membership_auc,
    retain_drift,
    secondary_metrics,
    tug_of_war,
)


def _accuracies(rng: np.random.Generator, n: int, forget: float, retain: float, test: float):
    return {
        name: np.clip(level + 0.01 * rng.normal(size=n), 0, 1)
        for name, level in (("forget", forget), ("retain", retain), ("test", test))
    }


def test_tow_is_near_one_for_retraining_and_far_for_a_model_that_kept_the_forget_set() -> None:
    rng = np.random.default_rng(0)
    retrained = _accuracies(rng, 64, 0.80, 0.95, 0.80)
    again, interval = tug_of_war(_accuracies(rng, 64, 0.80, 0.95, 0.80), retrained, seed=1)
    assert again > 0.98 and interval[0] <= again <= interval[1] and interval[1] <= 1.0
    kept, kept_interval = tug_of_war(_accuracies(rng, 64, 1.00, 0.99, 0.82), retrained)
    assert kept < 0.8 and kept_interval[1] < interval[0]
    # The definition: the product of 1 - |gap| over forget, retain and test.
    exact = {"forget": np.array([1.0]), "retain": np.array([0.9]), "test": np.array([0.7])}
    other = {"forget": np.array([0.5]), "retain": np.array([1.0]), "test": np.array([0.8])}
    assert tug_of_war(exact, other, n_bootstrap=0) == (pytest.approx(0.5 * 0.9 * 0.9), None)


def test_tow_rejects_accuracies_that_are_not_one_per_model() -> None:
    good = {"forget": np.ones(4), "retain": np.ones(4), "test": np.ones(4)}
    with pytest.raises(ValueError, match="one per model"):
        tug_of_war({**good, "test": np.ones(3)}, good)


def test_klom_is_near_zero_for_retrained_margins_and_large_for_shifted_ones() -> None:
    rng = np.random.default_rng(1)
    centre = rng.normal(0, 3, size=200)
    retrained = centre + rng.normal(size=(256, 200))
    again = centre + rng.normal(size=(256, 200))
    same = klom(again, retrained, seed=2)
    # Finite N biases a binned KL upwards (empty bins meet the 1e-5 floor): "near 0" means
    # at most the floor of two retrained halves, and far below a clear shift.
    assert same["value"] < 0.15 and same["floor"] is not None and same["value"] < same["floor"]
    assert same["interval"][0] <= same["value"] <= same["interval"][1]
    shifted = klom(again + 3.0, retrained)
    assert shifted["value"] > 10 * same["value"] and shifted["interval"][0] > same["interval"][1]
    # Identical sets: every bin matches, the divergence is exactly 0.
    np.testing.assert_array_equal(binned_klom(retrained, retrained.copy()), 0.0)
    # Constant margins on both sides (one bin): 0, not a division by zero.
    np.testing.assert_array_equal(binned_klom(np.ones((5, 2)), np.ones((7, 2))), 0.0)


def test_binned_klom_is_the_kl_of_twenty_equal_bins_over_the_pooled_range() -> None:
    unlearned = np.array([[0.0], [0.0], [1.0], [2.0]])
    retrained = np.array([[0.0], [2.0], [2.0], [2.0]])
    # Bins of width 0.1 over [0, 2]: p = (2, 1, 1)/4 on bins 0, 10, 19; q = (1, 0, 3)/4.
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 1e-5, 0.75])
    q = q / (q.sum() + 0)  # q is renormalised after its floor (other bins hold no mass)
    value = binned_klom(unlearned, retrained, bins=20)[0]
    assert value == pytest.approx(float(np.sum(p * np.log(p / q))))
    assert klom_bins(4) == 2 and klom_bins(64) == 8 and klom_bins(160) == klom_bins(512) == 20


def test_klom_of_few_models_stays_near_zero_for_retraining_and_far_for_doing_nothing() -> None:
    # 16 models a side: with the reference's 20 bins, two samples of one distribution
    # would look as far apart as a memorised forget set.
    rng = np.random.default_rng(6)
    centre = rng.normal(0, 3, size=100)
    retrained = centre + rng.normal(size=(16, 100))
    same = klom(centre + rng.normal(size=(16, 100)), retrained)
    memorised = klom(np.broadcast_to(centre + 8.0, (16, 100)), retrained)
    assert same["bins"] == 2 and same["value"] < 0.1
    assert memorised["value"] > 5.0


def test_membership_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    members = np.round(rng.exponential(0.5, size=(3, 40)), 1)
    others = np.round(rng.exponential(1.0, size=(3, 30)), 1)
    labels = np.r_[np.ones(40), np.zeros(30)]
    for row in range(3):
        expected = roc_auc_score(labels, -np.r_[members[row], others[row]])
        assert membership_auc(members[row], others[row])[0] == pytest.approx(expected)


def test_retain_drift_is_zero_when_nothing_changes_and_positive_when_retain_is_exposed() -> None:
    rng = np.random.default_rng(4)
    original_retain = rng.normal(3.0, 1.0, size=256)  # margins: higher = lower loss
    test_losses = np.logaddexp(0.0, -rng.normal(2.0, 1.0, size=(16, 200)))
    unchanged = retain_drift(
        original_retain_margins=original_retain,
        original_test_losses=test_losses[0],
        unlearned_retain_margins=np.tile(original_retain, (16, 1)),
        unlearned_test_losses=np.tile(test_losses[0], (16, 1)),
    )
    assert unchanged["value"] == pytest.approx(0.0)
    exposed = retain_drift(
        original_retain_margins=original_retain,
        original_test_losses=test_losses[0],
        unlearned_retain_margins=original_retain + 2.0 + 0.1 * rng.normal(size=(16, 256)),
        unlearned_test_losses=test_losses,
        retrained_retain_margins=original_retain + 0.1 * rng.normal(size=(16, 256)),
        retrained_test_losses=test_losses,
    )
    assert exposed["value"] > 0.1 and exposed["interval"][0] > 0.05
    assert abs(exposed["retrained"]) < exposed["value"]


def test_secondary_metrics_name_what_is_unavailable_and_never_raise_for_it() -> None:
    rng = np.random.default_rng(5)
    margins = rng.normal(size=(8, 20))
    accuracy = _accuracies(rng, 8, 0.8, 0.9, 0.8)
    result = secondary_metrics(
        unlearned_accuracy=accuracy,
        retrained_accuracy=accuracy,
        unlearned_forget_margins=margins,
        retrained_forget_margins=margins,
        n_bootstrap=20,
    )
    assert set(result) == {
        "tow",
        "klom_forget",
        "klom_retain",
        "retain_drift",
        "lira_auc",
        "population",
    }
    assert result["tow"]["value"] == pytest.approx(1.0)
    assert result["klom_forget"]["value"] == 0.0
    for name in ("klom_retain", "retain_drift", "lira_auc", "population"):
        assert result[name]["value"] is None and result[name]["interval"] is None
        assert result[name]["reading"].startswith("unavailable")
    for entry in result.values():
        assert entry["label"] and entry["reading"] and "\n" not in entry["reading"]
