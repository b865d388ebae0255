"""Secondary attacks: chance level when nothing leaks, high when the sides differ."""

from __future__ import annotations

import numpy as np
import pytest

from harness.attacks import cross_entropy_losses, per_example_lira, population_mia


def test_cross_entropy_losses_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(6, 4)) * 5, rng.integers(0, 4, size=6)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(
        cross_entropy_losses(logits, labels), -np.log(probs[np.arange(6), labels]), rtol=1e-12
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
