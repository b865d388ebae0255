"""The ``pooled`` forget-quality estimator: unbiased Gaussian divergences, pooled over examples.

Why another estimator. ``calibrated`` certifies an epsilon with a lower confidence bound per
example. At small N the bound is so wide that nothing below about one standard deviation of
shift can be certified: a perfect unlearner and one whose outputs sit 0.5 sd off both score
1.000 at N = 64. This estimator trades the per-example certificate for resolution. Per
forget example, with N models per side:

1. Fit one Gaussian per side (the logit-scaled confidence, as LiRA does) and estimate the
   Jeffreys divergence J of the two, unbiased at this N:
   ``J = mean term + variance term``, with
   mean term = ``D^2 / V * (nu - 2) / nu - 2 / N`` (D the difference of the means, V the
   pooled unbiased variance, nu = 2N - 2: E[D^2 / V] = (mu^2 + 2/N) nu / (nu - 2) for
   Gaussian data), and variance term = ``cosh(L) exp(-tau^2 / 2) - 1`` (L the log ratio of
   the two unbiased variances, tau^2 its sampling variance, ``trigamma((N - 1) / 2) *
   (kurtosis - 1)`` with the forget set's median kurtosis, at least 3: exact for Gaussian
   data, wider for heavy tails, which would otherwise pass for a gap in variance).
   Two equal-variance Gaussians mu standard deviations apart have J = mu^2; J = 0 only for
   identical ones. The estimate is unbiased, so it is negative about half the time for a
   perfect unlearner.
2. Pool the forget set (empirical Bayes; Efron 2019, "Bayes, oracle Bayes and empirical
   Bayes"): the examples share one unlearner, so their J's are draws from one
   distribution. A nonparametric prior on J >= 0 (a grid mixture, Kiefer and Wolfowitz
   1956) is fitted by EM to all S estimates with their Gaussian-theory noise, and each
   example gets its posterior mean. A perfect unlearner's noise shrinks to ~0; a shift that
   every example shares, however small, survives, because its level is estimated from
   S * N values rather than N; a few failing examples among perfect ones stay apart (the
   mixture has room for both).
3. Read the shrunk J as a Gaussian shift mu = sqrt(J) and report the epsilon of that shift
   at delta = 1e-5: a mu-GDP pair (Dong, Roth and Su 2022) has
   ``delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)``, solved for eps.
   The same buckets as every estimator then give points and F.

A point mass against a spread distribution gets the cap, by the spike guard the other
estimators share (the competition's 1% range ratio). Deterministic: no seed is used, so the
result depends on the values only (each example's values are sorted before any sum, which
makes it independent of the order of the models bit for bit, and every formula is symmetric
in the two sides).

What it gives up. Nothing here is a certificate: the epsilon is a point estimate under a
Gaussian model, and pooling lets the forget set's overall level lend resolution to each
example. Where a phase needs "this epsilon holds with 95% confidence", ``calibrated`` says
that; where it needs to order unlearners that are already close to retraining, this does.
Measured on the synthetic probe (bench/scoring_probe.py; docs/scoring.md).
"""

from __future__ import annotations

import functools

import numpy as np

from harness.scoring.neurips2023 import EPSILON_CAP, SPIKE_RATIO

__all__ = ["gdp_epsilon", "jeffreys_divergences", "pooled_epsilons", "shrink_to_common_prior"]

DELTA = 1e-5
TOLERANCE = 1e-7  # EM stops once no prior weight moves by more than this
_MU_GRID_MAX = 12.0  # eps(12) at delta 1e-5 is beyond the cap of 50 already
_MAX_LOG_RATIO = 12.0  # variances e^12 apart: cosh stays finite, the divergence is capped


def _gdp_delta(eps: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """delta(eps) of a mu-GDP pair (two unit Gaussians mu apart), elementwise."""
    from scipy import special  # here, not at import: `unlearn` starts without scipy

    ndtr = special.ndtr
    # e^eps Phi(b) through log-space so that large eps does not overflow.
    log_second = eps + special.log_ndtr(-eps / mu - mu / 2.0)
    value: np.ndarray = ndtr(-eps / mu + mu / 2.0) - np.exp(log_second)
    return value


@functools.lru_cache(maxsize=1)
def _gdp_table() -> tuple[np.ndarray, np.ndarray]:
    """eps at delta = DELTA on a grid of mu in [0, 12] (bisection, vectorised)."""
    mu = np.linspace(0.0, _MU_GRID_MAX, 2401)[1:]
    low, high = np.zeros_like(mu), np.full_like(mu, 2.0 * EPSILON_CAP)
    for _ in range(80):  # halves [0, 100] down to ~1e-22
        middle = 0.5 * (low + high)
        above = _gdp_delta(middle, mu) > DELTA  # eps too small: delta still above target
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    grid = np.concatenate([[0.0], mu])
    eps = np.concatenate([[0.0], high])
    grid.setflags(write=False)
    eps.setflags(write=False)
    return grid, eps


def gdp_epsilon(mu: np.ndarray) -> np.ndarray:
    """Epsilon at delta = 1e-5 of a Gaussian shift of mu standard deviations, in [0, 50]."""
    grid, eps = _gdp_table()
    mu = np.asarray(mu, dtype=np.float64)
    value = np.interp(mu, grid, eps)
    return np.where(mu >= _MU_GRID_MAX, EPSILON_CAP, np.minimum(value, EPSILON_CAP))


def jeffreys_divergences(
    unlearned: np.ndarray, retrained: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Unbiased Jeffreys divergence per example [S], the absolute log ratio of the two
    variances [S], and tau^2, the sampling variance of that log ratio when the variances
    are equal (from the forget set's median kurtosis: 2 trigamma((N - 1) / 2) for Gaussian
    data, larger for heavy tails).

    Args:
        unlearned, retrained: [N, S] float64, validated (N >= 4).
    """
    n = unlearned.shape[0]
    # Sorted first: sums then run in one order whatever the order of the models.
    first, second = np.sort(unlearned, axis=0), np.sort(retrained, axis=0)
    centred_1, centred_2 = first - first.mean(axis=0), second - second.mean(axis=0)
    var_1, var_2 = first.var(axis=0, ddof=1), second.var(axis=0, ddof=1)
    pooled = 0.5 * (var_1 + var_2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kurtosis = 0.5 * (
            np.mean(centred_1**4, axis=0) / np.mean(centred_1**2, axis=0) ** 2
            + np.mean(centred_2**4, axis=0) / np.mean(centred_2**2, axis=0) ** 2
        )
        gap = first.mean(axis=0) - second.mean(axis=0)
        standardised = np.where(pooled > 0, gap * gap / pooled, 0.0)
        log_ratio = np.abs(np.log(var_1) - np.log(var_2))
    log_ratio = np.where((var_1 > 0) & (var_2 > 0), np.minimum(log_ratio, _MAX_LOG_RATIO), 0.0)
    finite = kurtosis[np.isfinite(kurtosis)]
    typical_kurtosis = max(float(np.median(finite)), 3.0) if finite.size else 3.0
    # var(log s^2) = trigamma((N-1)/2) for Gaussian data, ~(kurtosis - 1) / N in general.
    from scipy import special  # here, not at import: `unlearn` starts without scipy

    trigamma = float(special.polygamma(1, (n - 1.0) / 2.0))
    tau_squared = trigamma * (typical_kurtosis - 1.0)
    nu = 2.0 * n - 2.0
    mean_term = standardised * (nu - 2.0) / nu - 2.0 / n
    # E[cosh(L^)] = cosh(L) exp(tau^2 / 2) for L^ ~ N(L, tau^2).
    variance_term = np.cosh(log_ratio) * np.exp(-tau_squared / 2.0) - 1.0
    # Beyond this the epsilon is the cap anyway; the clip keeps the prior's grid finite.
    divergence: np.ndarray = np.minimum(mean_term + variance_term, _MU_GRID_MAX**2)
    return divergence, np.minimum(log_ratio, _MAX_LOG_RATIO), tau_squared


def _noise_variance(
    level: np.ndarray, log_ratio: np.ndarray, tau_squared: float, n: int
) -> np.ndarray:
    """Variance of the divergence estimate when the true divergence is `level` (delta
    method): D / sd is N(mu, 2/N) and L is N(L0, tau^2). Broadcasts `level` [K] against
    `log_ratio` [S, 1]."""
    variance: np.ndarray = (
        2.0 * (2.0 / n) ** 2
        + 4.0 * level * (2.0 / n)
        + 0.5 * tau_squared**2
        + np.sinh(log_ratio) ** 2 * tau_squared
    )
    return variance


def shrink_to_common_prior(
    divergence: np.ndarray,
    log_ratio: np.ndarray,
    tau_squared: float,
    n_models: int,
    *,
    iterations: int = 200,
) -> np.ndarray:
    """Posterior mean divergence per example under a prior fitted to all of them, [S] >= 0.

    The prior is a nonparametric maximum-likelihood mixture (Kiefer and Wolfowitz 1956) on a
    grid of divergences from 0 up, fitted by EM to all S estimates with their
    Gaussian-theory noise. Unlike a normal prior it keeps a forget set of mostly perfect
    examples and a few failures apart: the failures do not drag the rest up, and the rest do
    not pull the failures down.
    """
    order = np.argsort(divergence, kind="stable")  # sums in one order: bit-for-bit stable
    values, ratios = divergence[order], log_ratio[order][:, None]
    top = float(np.sqrt(max(values.max(), 0.0)))
    # Grid uniform in mu = sqrt(divergence), so that small shifts get as fine a grid as big ones.
    grid = np.linspace(0.0, 1.05 * top + 0.05, 121) ** 2
    variance = _noise_variance(grid[None, :], ratios, tau_squared, n_models)
    log_likelihood = -0.5 * ((values[:, None] - grid[None, :]) ** 2 / variance + np.log(variance))
    likelihood = np.exp(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
    weights = np.full(grid.size, 1.0 / grid.size)
    for _ in range(iterations):
        joint = likelihood * weights
        updated = (joint / joint.sum(axis=1, keepdims=True)).mean(axis=0)
        converged = float(np.abs(updated - weights).max()) < TOLERANCE
        weights = updated
        if converged:
            break
    joint = likelihood * weights
    posterior_mean = (joint @ grid) / joint.sum(axis=1)
    shrunk = np.empty_like(posterior_mean)
    shrunk[order] = posterior_mean
    return np.asarray(shrunk)


def pooled_epsilons(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per-example epsilon of the pooled Gaussian estimate, float64 [S] in [0, 50].

    Args:
        unlearned, retrained: [N, S] float64 confidences, already validated (N >= 4).
    """
    divergence, log_ratio, tau_squared = jeffreys_divergences(unlearned, retrained)
    shrunk = shrink_to_common_prior(divergence, log_ratio, tau_squared, unlearned.shape[0])
    epsilons = gdp_epsilon(np.sqrt(shrunk))
    ranges = np.stack([np.ptp(unlearned, axis=0), np.ptp(retrained, axis=0)])
    largest, smallest = ranges.max(axis=0), ranges.min(axis=0)
    spiked = (largest > 0) & (smallest < SPIKE_RATIO * largest)
    result: np.ndarray = np.where(spiked, EPSILON_CAP, epsilons)
    return result
