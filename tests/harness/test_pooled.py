"""The ``pooled`` estimator's parts: the GDP reading, the prior over examples, heavy tails."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.scoring import forget_quality
from harness.scoring.pooled import gdp_epsilon, jeffreys_divergences


@pytest.mark.parametrize("mu", [0.1, 0.5, 1.0, 2.0])
def test_gdp_epsilon_solves_the_gaussian_privacy_profile_at_delta_1e5(mu: float) -> None:
    eps = float(gdp_epsilon(np.array(mu)))
    delta = stats.norm.cdf(-eps / mu + mu / 2) - np.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2)
    assert delta == pytest.approx(1e-5, rel=1e-3)
    assert gdp_epsilon(np.array(0.0)) == 0.0 and gdp_epsilon(np.array(100.0)) == 50.0


def test_jeffreys_divergence_is_unbiased_for_a_gaussian_shift() -> None:
    rng = np.random.default_rng(0)
    for mu in (0.0, 0.5):
        unlearned = rng.normal(size=(32, 4000)) + mu
        divergence, _, _ = jeffreys_divergences(unlearned, rng.normal(size=(32, 4000)))
        assert divergence.mean() == pytest.approx(mu**2, abs=0.01)


def test_a_few_failing_examples_do_not_drag_the_perfect_ones_down() -> None:
    rng = np.random.default_rng(1)
    retrained = rng.normal(size=(64, 100))
    unlearned = rng.normal(size=(64, 100))
    unlearned[:, :10] += 2.0
    result = forget_quality(unlearned, retrained, estimator="pooled")
    assert result.points[:10].max() == 0.0
    assert result.points[10:].mean() >= 0.95


def test_heavy_tails_do_not_pass_for_a_difference_in_spread() -> None:
    rng = np.random.default_rng(2)
    unlearned, retrained = rng.standard_t(3, size=(2, 512, 100))
    assert forget_quality(unlearned, retrained, estimator="pooled").forget_quality >= 0.9
    # A true difference in spread alone is seen.
    wider = forget_quality(2.0 * unlearned, retrained, estimator="pooled")
    assert wider.forget_quality < 0.5
