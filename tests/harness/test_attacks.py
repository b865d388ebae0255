"""Secondary attacks: chance level when nothing leaks, high when the sides differ."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.scoring import logit_scaled_confidence
from harness.scoring.mia import (
    POPULATION_MODELS,
    cross_entropy_losses,
    losses_from_confidences,
    per_example_lira,
    population_mia,
    secondary_attacks,
)


def test_cross_entropy_losses_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(6, 4)) * 5, rng.integers(0, 4, size=6)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(
        cross_entropy_losses(logits, labels), -np.log(probs[np.arange(6), labels]), rtol=1e-12
    )


def test_losses_from_confidences_are_the_cross_entropy() -> None:
    rng = np.random.default_rng(5)
    logits, labels = rng.normal(size=(50, 10)) * 4, rng.integers(0, 10, size=50)
    np.testing.assert_allclose(
        losses_from_confidences(logit_scaled_confidence(logits, labels)),
        cross_entropy_losses(logits, labels),
        rtol=1e-9,
    )


def test_population_mia_is_at_chance_for_identical_loss_distributions() -> None:
    rng = np.random.default_rng(1)
    result = population_mia(rng.exponential(size=600), rng.exponential(size=400), seed=1)
    assert result.n_per_class == 400
    assert abs(result.accuracy - 0.5) < 0.07


def test_population_mia_detects_forget_losses_that_are_still_low() -> None:
    rng = np.random.default_rng(2)
    forget = rng.exponential(0.1, size=300)  # memorised: near-zero loss
    test = rng.exponential(1.0, size=300)
    assert population_mia(forget, test).accuracy > 0.75


def test_population_mia_rejects_tiny_or_nan_inputs() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        population_mia(np.ones(1), np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        population_mia(np.array([1.0, np.nan]), np.ones(5))


def test_per_example_lira_is_at_chance_for_a_perfect_unlearner() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(256, 20)) * rng.uniform(0.5, 2, 20) + rng.normal(0, 3, 20)
    result = per_example_lira(reference[:128], reference[128:])
    assert abs(result.auc - 0.5) < 0.05
    assert result.tpr_at_fpr[0.1] < 0.2
    assert result.n_scores == 128 * 20


def test_per_example_lira_separates_shifted_outputs() -> None:
    rng = np.random.default_rng(4)
    retrained = rng.normal(size=(64, 10))
    result = per_example_lira(retrained + 2.0, rng.normal(size=(64, 10)))
    assert result.auc > 0.9
    assert result.tpr_at_fpr[0.1] > 0.5


def test_secondary_attacks_report_lira_beside_the_score_and_none_for_tiny_n() -> None:
    rng = np.random.default_rng(3)
    unlearned, retrained = rng.normal(1.0, 1.0, (16, 40)), rng.normal(0.0, 1.0, (16, 40))
    attacks = secondary_attacks(unlearned, retrained)
    assert attacks["lira"]["auc"] > 0.7
    assert secondary_attacks(unlearned[:2], retrained[:2]) == {"lira": None, "population": None}


def _confs_for(losses: np.ndarray) -> np.ndarray:
    # The logit-scaled confidence whose true-label loss is `losses`: log p - log(1 - p).
    p = np.exp(-losses)
    return np.log(p) - np.log1p(-p)


def test_secondary_attacks_population_separates_memorised_forget_sets_from_retrained() -> None:
    rng = np.random.default_rng(6)
    n_models, n_forget, n_test = 512, 100, 100
    # Unlearned models still fit the forget set (near-zero losses); retrained ones see it as
    # they see the test set: identically distributed losses.
    unlearned = _confs_for(rng.exponential(0.05, (n_models, n_forget)) + 1e-6)
    retrained = _confs_for(rng.exponential(1.0, (n_models, n_forget)) + 1e-6)
    test_u = rng.exponential(1.0, (n_models, n_test)).astype(np.float32)
    test_r = rng.exponential(1.0, (n_models, n_test)).astype(np.float32)
    started = time.perf_counter()
    attacks = secondary_attacks(
        unlearned, retrained, unlearned_test_losses=test_u, retrained_test_losses=test_r
    )
    seconds = time.perf_counter() - started
    population = attacks["population"]
    assert population["accuracy"] > 0.8
    assert population["models"] == POPULATION_MODELS and population["n_per_class"] == 100
    assert 0.0 <= population["accuracy_std"] < 0.1
    baseline = population["retrained"]
    assert abs(baseline["accuracy"] - 0.5) < 0.07
    assert baseline["models"] == POPULATION_MODELS
    assert attacks["lira"]["auc"] > 0.9
    assert seconds < 5.0, f"the secondary attacks took {seconds:.2f} s for N = 512"


def test_secondary_attacks_population_is_none_without_test_losses() -> None:
    rng = np.random.default_rng(7)
    unlearned, retrained = rng.normal(size=(6, 30)), rng.normal(size=(6, 30))
    assert secondary_attacks(unlearned, retrained)["population"] is None
    only_unlearned = secondary_attacks(
        unlearned, retrained, unlearned_test_losses=rng.exponential(size=(6, 30))
    )["population"]
    assert only_unlearned["models"] == 6 and only_unlearned["retrained"] is None
    tiny = secondary_attacks(
        unlearned[:, :1], retrained[:, :1], unlearned_test_losses=np.ones((6, 1))
    )
    assert tiny["population"] is None, "one forget example: too few for the attack"
