"""The ``calibrated`` forget-quality estimator: a held-out audit with exact binomial bounds.

Same target as the NeurIPS 2023 rule, the (epsilon, delta) notion of unlearning (an
unlearned and a retrained output distribution are (epsilon, delta)-close when every test
that tells them apart has FPR and FNR bounded as in Kairouz et al. 2015), but estimated the
way privacy auditing estimates it (Jagielski et al. 2020; Nasr et al. 2021, 2023): choose a
test on some samples, measure its error rates on *other* samples, and report the epsilon
that the test certifies with high confidence. Per forget example:

1. Canonical orientation (the side with the larger median, then mean, comes first), so that
   swapping the two inputs changes nothing.
2. Split each side's values into two halves with a seeded permutation of the sorted values
   (the same for both sides), so that the order of the models changes nothing either.
3. On the selection half, fit one Gaussian per side (mean and standard deviation of the
   logit-scaled confidence, as LiRA does, Carlini et al. 2022). Their log likelihood ratio
   orders every possible value from "looks unlearned" to "looks retrained"; its level sets
   are single thresholds or windows (a near-deterministic side gives a narrow window), so
   this family covers both attack families of the competition with one parameter.
4. Pick the level ``tau`` that maximises the certified epsilon on the selection half.
5. On the audit half, count how many unlearned and retrained values the test flags and turn
   the two counts into one-sided Clopper-Pearson (default) or Jeffreys upper bounds on FPR
   and FNR, each at level alpha / 2. Then ``eps_lo = max(log((1 - delta - FPR+) / FNR+),
   log((1 - delta - FNR+) / FPR+), 0)`` holds with probability >= 1 - alpha.
6. Do this for both roles of the halves and for ``n_splits`` random splits; report the
   median.

A point mass against a spread distribution is the one case no finite audit needs: the
test ``conf == c`` has FPR 0 and FNR 0 in the population, whatever N, so such an example
gets the cap (the competition's spike guard, with its 1% range ratio). This is what makes a
deterministic unlearner score 0 at small N too, where the binomial bounds alone could
certify little.

Because the audit never sees the data that chose the test, a perfect unlearner gets
epsilon 0 on most examples (F about 0.99 at every N, against about 0.2 for the competition
rule, whose maximum over 10^5 thresholds on the same data is driven by small-count tails).
Separable or deterministic unlearners reach the largest epsilon the audit can certify,
``log((1 - delta - u) / u)`` with ``u`` the bound for zero errors (about 4.2 at N = 512).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from harness.scoring.neurips2023 import EPSILON_CAP, SPIKE_RATIO

__all__ = [
    "CalibratedConfig",
    "calibrated_epsilons",
    "certified_epsilon_table",
]

DELTA = 1e-5
INTERVALS = ("clopper-pearson", "jeffreys")


@functools.lru_cache(maxsize=32)
def certified_epsilon_table(n_per_side: int, alpha: float, interval: str) -> np.ndarray:
    """Certified epsilon for every audit outcome, read-only float64 [(n + 1) ** 2].

    Index ``(n + 1) * a + b``: the test flags a of the n values of the side it looks for
    and b of the n values of the other side. FPR = b / n, FNR = 1 - a / n; both are
    replaced by one-sided upper bounds at level alpha / 2, so the epsilon is a lower bound
    with confidence >= 1 - alpha.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}; got {interval!r}")
    from scipy import stats  # imported here: a second of start-up for every other command

    n = n_per_side
    errors = np.arange(n + 1, dtype=np.float64)
    level = 1.0 - alpha / 2.0
    if interval == "clopper-pearson":
        upper = stats.beta.ppf(level, errors + 1.0, n - errors)
    else:
        upper = stats.beta.ppf(level, errors + 0.5, n - errors + 0.5)
    upper = np.where(errors >= n, 1.0, upper)  # no failure left to bound: the rate may be 1
    fpr_upper = upper[None, :]  # false positives = b
    fnr_upper = upper[::-1][:, None]  # false negatives = n - a
    with np.errstate(divide="ignore", invalid="ignore"):
        term_fpr = np.log(1.0 - DELTA - fpr_upper) - np.log(fnr_upper)
        term_fnr = np.log(1.0 - DELTA - fnr_upper) - np.log(fpr_upper)
    value = np.fmax(np.fmax(term_fpr, term_fnr), 0.0)  # log of a negative: no evidence
    table: np.ndarray = np.nan_to_num(value, nan=0.0).ravel()
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class CalibratedConfig:
    """Settings of the calibrated estimator."""

    alpha: float = 0.05  # the certified epsilon holds with probability >= 1 - alpha
    interval: str = "clopper-pearson"  # or "jeffreys"
    n_splits: int = 3  # random halvings; each is used in both roles

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1); got {self.alpha}")
        if self.interval not in INTERVALS:
            raise ValueError(f"interval must be one of {INTERVALS}; got {self.interval!r}")
        if self.n_splits < 1:
            raise ValueError(f"n_splits must be >= 1; got {self.n_splits}")


@functools.lru_cache(maxsize=1)
def _defaults() -> CalibratedConfig:
    return CalibratedConfig()


def _gaussian_fit(values: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored standard deviation along axis 1 of [S, n] values."""
    mean = values.mean(axis=1)
    std = np.maximum(values.std(axis=1), floor)
    return mean, std


def _log_likelihood_ratio(
    values: np.ndarray, first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """log N(x; first) - log N(x; second) for [S, m] values, per-example parameters [S]."""
    (mean_1, std_1), (mean_2, std_2) = first, second
    z_1 = (values - mean_1[:, None]) / std_1[:, None]
    z_2 = (values - mean_2[:, None]) / std_2[:, None]
    ratio: np.ndarray = 0.5 * (z_2 * z_2 - z_1 * z_1) + np.log(std_2 / std_1)[:, None]
    return ratio


def _select_level(
    scores_first: np.ndarray, scores_second: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """Per example, the level tau whose test ``score >= tau`` certifies most on these scores.

    Scores are [S, n] for each side; returns tau [S] (midway between two distinct scores, or
    -inf for "flag everything", which certifies nothing).
    """
    n_examples, n = scores_first.shape
    pooled = np.concatenate([scores_first, scores_second], axis=1)
    order = np.argsort(-pooled, axis=1, kind="stable")
    ranked = np.take_along_axis(pooled, order, axis=1)
    flagged_first = np.cumsum(order < n, axis=1)
    flagged_second = np.arange(1, 2 * n + 1)[None, :] - flagged_first
    certified = table[flagged_first * (n + 1) + flagged_second]
    # A cut may only fall between two distinct scores.
    cut_allowed = np.ones_like(certified, dtype=bool)
    cut_allowed[:, :-1] = ranked[:, :-1] > ranked[:, 1:]
    certified = np.where(cut_allowed, certified, -1.0)
    best = np.argmax(certified, axis=1)
    rows = np.arange(n_examples)
    following = np.where(best + 1 < 2 * n, ranked[rows, np.minimum(best + 1, 2 * n - 1)], -np.inf)
    level: np.ndarray = 0.5 * (ranked[rows, best] + following)
    return level


def calibrated_epsilons(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    *,
    seed: int = 0,
    config: CalibratedConfig | None = None,
) -> np.ndarray:
    """Per-example certified epsilon (median over splits), float64 [S], >= 0.

    Args:
        unlearned, retrained: [N, S] float64 confidences, already validated (N >= 4).
        seed: seeds the random splits of the models into halves.
        config: alpha, interval and number of splits; defaults when None.
    """
    config = config or _defaults()
    n_models = unlearned.shape[0]
    half = n_models // 2
    table = certified_epsilon_table(half, config.alpha, config.interval)

    # Canonical orientation per example: larger median first, then larger mean.
    median_gap = np.median(unlearned, axis=0) - np.median(retrained, axis=0)
    mean_gap = unlearned.mean(axis=0) - retrained.mean(axis=0)
    unlearned_first = (median_gap > 0) | ((median_gap == 0) & (mean_gap >= 0))
    # Sorting each example's values before the seeded split makes the result depend on the
    # values only, not on the order of the models (each half is still a uniform draw).
    first = np.sort(np.where(unlearned_first, unlearned, retrained).T, axis=1)  # [S, N]
    second = np.sort(np.where(unlearned_first, retrained, unlearned).T, axis=1)
    # A floor on the fitted spread keeps a constant side finite: its likelihood ratio then
    # singles out a window of width ~1e-9 of the data's scale around that constant.
    scale = np.maximum(np.abs(first).max(axis=1), np.abs(second).max(axis=1))
    floor = 1e-9 * np.maximum(scale, 1e-300)

    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(config.n_splits):
        permutation = rng.permutation(n_models)
        halves = (permutation[:half], permutation[half : 2 * half])
        for select, audit in (halves, halves[::-1]):
            fit_first = _gaussian_fit(first[:, select], floor)
            fit_second = _gaussian_fit(second[:, select], floor)
            tau = _select_level(
                _log_likelihood_ratio(first[:, select], fit_first, fit_second),
                _log_likelihood_ratio(second[:, select], fit_first, fit_second),
                table,
            )
            flagged_first = (
                _log_likelihood_ratio(first[:, audit], fit_first, fit_second) >= tau[:, None]
            ).sum(axis=1)
            flagged_second = (
                _log_likelihood_ratio(second[:, audit], fit_first, fit_second) >= tau[:, None]
            ).sum(axis=1)
            estimates.append(table[flagged_first * (half + 1) + flagged_second])
    median: np.ndarray = np.median(np.stack(estimates), axis=0)
    ranges = np.stack([np.ptp(unlearned, axis=0), np.ptp(retrained, axis=0)])
    largest, smallest = ranges.max(axis=0), ranges.min(axis=0)
    spiked = (largest > 0) & (smallest < SPIKE_RATIO * largest)
    return np.where(spiked, EPSILON_CAP, median)
