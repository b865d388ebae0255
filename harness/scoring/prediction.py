"""A submission's full-N score predicted from its first n runs (the racing rule `predicted`).

Why: every estimator's F depends on N, the number of models per side (more models resolve
larger epsilons, and the buckets grow with ln N), at rates that differ between methods: on
the racing board (docs/benchmarks.md "Racing") a method ranked 15th at n = 32 is 5th at
N = 256. A score at n is therefore not on the scale of the board's full-N scores, and
comparing rows at equal n ranks them on another quantity. This module puts round n on the
full-N scale instead.

Model: for each forget example, the submission's logit-scaled confidences over seeds are
Gaussian (the per-example model of LiRA, Carlini et al. 2022, on the same statistic),
with the mean and spread of its n runs, shrunk for their estimation noise (``_fit``).
The prediction draws N confidences per example from that fit and scores them with the
phase's estimator against all N reference models (a phase trains them before its first
submission), times the utility factor of the n runs' accuracies against the
reference's; the point estimate averages DRAWS draws. Its
interval (``harness.scoring.racing``) comes from a bootstrap over the n runs: resample
them with replacement, refit, draw N again, score. So it carries the fit's uncertainty
from n runs and the draw's own noise, and every round, whatever its n, estimates the same
quantity as a full-N score.

What it assumes, and how it was checked: the Gaussian shape per example (mean and spread
are estimated). Where a method leaves other tails, the prediction is biased at any n:
heavy tails make the runs look easier to tell apart than they are. `bench/bench_racing.py`
prints how often each round's interval held the full-N score on its board
(docs/benchmarks.md "Racing"). Tried and not kept: one error shape for all examples,
from the S x n standardised residuals pooled (as they are: better coverage on the
competition rule's board at 64 and 128 runs, but too light-tailed for Gaussian runs, F
12% low from 32 runs; put on the normal scale through Student's t: exact for Gaussian
runs, but coverage on that board fell to 83%).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from harness.scoring.estimators import get_estimator
from harness.scoring.points import bucket_points

__all__ = ["DRAWS", "predict"]

DRAWS = 4  # draws averaged for the point estimate


def _utility(
    unlearned_retain_acc: np.ndarray,
    retrained_retain_acc: np.ndarray,
    unlearned_test_acc: np.ndarray,
    retrained_test_acc: np.ndarray,
) -> float:
    return float(
        (np.mean(unlearned_retain_acc) / np.mean(retrained_retain_acc))
        * (np.mean(unlearned_test_acc) / np.mean(retrained_test_acc))
    )


def _forget_quality_of_draw(
    runs: np.ndarray, retrained: np.ndarray, estimator: str, rng: np.random.Generator
) -> float:
    """F of N confidences per example drawn from the fit of `runs` [n, S]."""
    n_models, n_examples = retrained.shape
    mean, spread = _fit(runs, retrained)
    drawn = mean + spread * rng.standard_normal((n_models, n_examples))
    epsilons = get_estimator(estimator).epsilons(drawn, retrained, seed=int(rng.integers(2**31)))
    return float(bucket_points(epsilons, n_models).mean())


def _shrunk(difference: np.ndarray, variance: np.ndarray | float) -> np.ndarray:
    """A difference estimated with noise of `variance`, pulled towards 0 so that its
    square is unbiased: sign(d) sqrt(max(0, d^2 - variance))."""
    return np.asarray(np.sign(difference) * np.sqrt(np.maximum(0.0, difference**2 - variance)))


def _fit(runs: np.ndarray, retrained: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and spread of the runs' Gaussian, measured from the reference's.

    A plug-in fit from n runs overstates how far the runs sit from the reference: its
    mean misses by about sd / sqrt(n) in a random direction, which N draws then resolve as
    a real difference (in a Gaussian world the plug-in prediction from 16 runs put F at
    60% of its full-N value). So the fit's distance from the reference's mean,
    and its log spread ratio, are shrunk by their estimation noise first.
    """
    n_runs = runs.shape[0]
    mean, spread = runs.mean(axis=0), runs.std(axis=0, ddof=1)
    reference_mean = retrained.mean(axis=0)
    reference_spread = retrained.std(axis=0, ddof=1)
    shift = _shrunk(mean - reference_mean, spread**2 / n_runs)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(spread) - np.log(reference_spread)
    # var(log sd) ~ 1 / (2 (n - 1)); infinite ratios (a constant side) stay as they are.
    finite = np.isfinite(log_ratio)
    log_ratio = np.where(finite, _shrunk(np.where(finite, log_ratio, 0.0), 0.5 / (n_runs - 1)), 0.0)
    fitted_spread = np.where(finite, reference_spread * np.exp(log_ratio), spread)
    return reference_mean + shift, fitted_spread


def _map(function: Callable[[int], float], count: int, estimator: str) -> np.ndarray:
    """function(0..count-1), on threads where the estimator runs without the GIL."""
    if get_estimator(estimator).threads_parallel and count > 1:
        workers = max(1, min(len(os.sched_getaffinity(0)), count))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return np.fromiter(pool.map(function, range(count)), dtype=np.float64, count=count)
    return np.fromiter(map(function, range(count)), dtype=np.float64, count=count)


def predict(
    runs: Mapping[str, np.ndarray], *, estimator: str, n_bootstrap: int, seed: int = 0
) -> tuple[float, np.ndarray]:
    """The final score at N predicted from n runs, and its bootstrap replicates.

    `runs` holds ``score_submission``'s six arrays: the n runs' ``unlearned_confs`` [n, S],
    ``unlearned_retain_acc`` and ``unlearned_test_acc`` [n]; all N reference models'
    ``retrained_confs`` [N, S], ``retrained_retain_acc`` and ``retrained_test_acc`` [N].
    Returns the mean of DRAWS predictions from all n runs, and one prediction per
    bootstrap resample of the runs (refitted, drawn again), float64 [n_bootstrap].
    """
    unlearned = np.asarray(runs["unlearned_confs"], dtype=np.float64)
    retrained = np.asarray(runs["retrained_confs"], dtype=np.float64)
    _check(unlearned, retrained)
    n_runs = unlearned.shape[0]
    rng = np.random.default_rng([seed, 0x9D1C])
    picks = [np.arange(n_runs)] * DRAWS + list(rng.integers(0, n_runs, size=(n_bootstrap, n_runs)))
    streams = rng.spawn(len(picks))

    def final_score(index: int) -> float:
        picked = picks[index]
        quality = _forget_quality_of_draw(unlearned[picked], retrained, estimator, streams[index])
        return quality * _utility(
            np.asarray(runs["unlearned_retain_acc"])[picked],
            runs["retrained_retain_acc"],
            np.asarray(runs["unlearned_test_acc"])[picked],
            runs["retrained_test_acc"],
        )

    values = _map(final_score, len(picks), estimator)
    return float(values[:DRAWS].mean()), values[DRAWS:]


def _check(unlearned_confs: np.ndarray, retrained_confs: np.ndarray) -> None:
    unlearned, retrained = np.shape(unlearned_confs), np.shape(retrained_confs)
    if len(unlearned) != 2 or len(retrained) != 2 or unlearned[1] != retrained[1]:
        raise ValueError(
            "a prediction needs [n, S] runs and [N, S] reference confidences with the same S; "
            f"got {unlearned} and {retrained}"
        )
    if unlearned[0] < 2:
        raise ValueError(
            f"a prediction fits a spread per example, from 2 runs or more; got {unlearned[0]}"
        )
