"""One submission's score with its uncertainty: F, final score, noise floor, bootstrap CIs.

Inputs: the unlearned and retrained confidence matrices [N, S] and each model's retain and
test accuracy [N] on both sides. Output: a frozen ``ScoreReport`` (``to_dict()`` is JSON),
which the worker stores and the leaderboard shows as ``score +- ci``.

* final score = F * (RA_U / RA_R) * (TA_U / TA_R), mean accuracies over the N models of each
  side, ratios not capped (the NeurIPS 2023 rule);
* noise floor = F of retrained vs retrained: the reference models split into two random
  halves (averaged over a few splits). It depends only on the reference, so a phase can
  compute it once and pass it in;
* confidence intervals: bootstrap over models (each side resampled with replacement,
  accuracies following their model) and over forget examples, so that the interval
  reflects both the finite number of runs and the finite forget set; bias-corrected
  percentiles, since duplicated models shift the replicates (see
  ``_bias_corrected_interval``). The interval always contains the score itself. Under
  K > 1 original models (``originals``: the original each unlearned row started from) the
  unlearned side is resampled in two stages, originals first and then runs within each
  drawn original, so that the interval also holds how much the score depends on which
  originals the phase happened to train (a cluster bootstrap); with one original the draws
  are exactly those of the 2023 setting.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from harness.scoring.estimators import DEFAULT_ESTIMATOR, get_estimator
from harness.scoring.points import bucket_points, check_confidence_pair

__all__ = [
    "ScoreReport",
    "bootstrap_processes",
    "forget_quality_interval",
    "noise_floor",
    "score_submission",
    "statistically_tied",
]

logger = logging.getLogger(__name__)

Interval = tuple[float, float]
MAX_BOOTSTRAP_PROCESSES = 8
ReplicateProgress = Callable[[int, int], None]
"""Called with (replicates done, replicates in all) as the bootstrap goes."""


@dataclass(frozen=True)
class ScoreReport:
    """Everything the leaderboard and the report page show about one scored submission."""

    estimator: str
    forget_quality: float
    final_score: float
    epsilons: np.ndarray = field(repr=False)  # [S]
    points: np.ndarray = field(repr=False)  # [S]
    noise_floor: float | None  # F of retrained vs retrained halves; None: too few models
    forget_quality_ci: Interval | None  # None when n_bootstrap == 0
    final_score_ci: Interval | None
    n_models: int
    n_examples: int
    unlearned_retain_acc: float  # means over the N models of each side
    retrained_retain_acc: float
    unlearned_test_acc: float
    retrained_test_acc: float
    n_bootstrap: int
    confidence: float
    seed: int
    # Originals resampled by the bootstrap (K > 1: two-stage draws); 1 under the 2023 rule.
    bootstrap_originals: int = 1

    @property
    def ci(self) -> dict[str, Interval | None]:
        """Both intervals by name."""
        return {"forget_quality": self.forget_quality_ci, "final_score": self.final_score_ci}

    @property
    def retain_ratio(self) -> float:
        return self.unlearned_retain_acc / self.retrained_retain_acc

    @property
    def test_ratio(self) -> float:
        return self.unlearned_test_acc / self.retrained_test_acc

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view: plain floats, lists and None."""

        def interval(value: Interval | None) -> list[float] | None:
            return None if value is None else [float(value[0]), float(value[1])]

        return {
            "estimator": self.estimator,
            "forget_quality": float(self.forget_quality),
            "final_score": float(self.final_score),
            "forget_quality_ci": interval(self.forget_quality_ci),
            "final_score_ci": interval(self.final_score_ci),
            "noise_floor": None if self.noise_floor is None else float(self.noise_floor),
            "epsilons": [float(value) for value in self.epsilons],
            "points": [float(value) for value in self.points],
            "n_models": self.n_models,
            "n_examples": self.n_examples,
            "unlearned_retain_acc": float(self.unlearned_retain_acc),
            "retrained_retain_acc": float(self.retrained_retain_acc),
            "unlearned_test_acc": float(self.unlearned_test_acc),
            "retrained_test_acc": float(self.retrained_test_acc),
            "retain_ratio": float(self.retain_ratio),
            "test_ratio": float(self.test_ratio),
            "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence,
            "seed": self.seed,
            # Only where originals were resampled: a record of one original reads as before.
            **({"bootstrap_originals": self.bootstrap_originals} if self.clustered else {}),
        }

    @property
    def clustered(self) -> bool:
        """Whether the intervals resampled K > 1 originals as well as runs."""
        return self.bootstrap_originals > 1 and self.n_bootstrap > 0


def noise_floor(
    retrained_confs: np.ndarray,
    *,
    estimator: str = DEFAULT_ESTIMATOR,
    seed: int = 0,
    n_repeats: int = 3,
) -> float:
    """F of one random half of the reference models against the other, mean of `n_repeats`.

    What a perfect unlearner would score with this estimator at N/2 models per side.

    Raises:
        ValueError: if the halves would hold fewer models than the estimator needs.
    """
    chosen = get_estimator(estimator)
    retrained_confs, _ = check_confidence_pair(retrained_confs, retrained_confs, min_models=1)
    n_models = retrained_confs.shape[0]
    half = n_models // 2
    if half < chosen.min_models:
        raise ValueError(
            f"the noise floor of {estimator!r} needs at least {2 * chosen.min_models} "
            f"reference models (two halves of {chosen.min_models}); got {n_models}"
        )
    rng = np.random.default_rng(seed)
    values = []
    for repeat in range(n_repeats):
        order = rng.permutation(n_models)
        first, second = retrained_confs[order[:half]], retrained_confs[order[half : 2 * half]]
        values.append(chosen(first, second, seed=seed + repeat).forget_quality)
    return float(np.mean(values))


_reference_noise_floor = noise_floor  # score_submission's parameter shadows the name


def _check_accuracies(name: str, values: np.ndarray, n_models: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n_models,):
        raise ValueError(f"{name} must have shape ({n_models},), one per model; got {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return values


def score_submission(
    *,
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    unlearned_retain_acc: np.ndarray,
    retrained_retain_acc: np.ndarray,
    unlearned_test_acc: np.ndarray,
    retrained_test_acc: np.ndarray,
    estimator: str = DEFAULT_ESTIMATOR,
    n_bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    noise_floor: float | None = None,
    processes: int = 1,
    on_replicate: ReplicateProgress | None = None,
    originals: np.ndarray | Sequence[int] | None = None,
) -> ScoreReport:
    """Score one submission: F, final score, noise floor and bootstrap intervals.

    Args:
        unlearned_confs, retrained_confs: [N, S] logit-scaled confidences.
        *_retain_acc, *_test_acc: [N] accuracy of each model (any unit, the same on both
            sides: only ratios are used).
        estimator: a name in ``ESTIMATORS``.
        n_bootstrap: bootstrap replicates; 0 skips the intervals.
        seed: seeds the estimator, the noise-floor halves and the bootstrap.
        confidence: coverage of the percentile intervals.
        noise_floor: a precomputed noise floor (it depends only on the reference); when
            None it is computed here, or left None if N is too small for two halves.
        processes: worker processes for the bootstrap (same numbers, less time).
        on_replicate: progress of the bootstrap, (done, total).
        originals: [N] the original (0..K-1) each unlearned row started from; with K > 1
            the bootstrap resamples originals, then runs within them. None: one original.
    """
    chosen = get_estimator(estimator)
    unlearned_confs, retrained_confs = check_confidence_pair(
        unlearned_confs, retrained_confs, min_models=chosen.min_models
    )
    n_models, n_examples = unlearned_confs.shape
    accuracies = {
        name: _check_accuracies(name, values, n_models)
        for name, values in (
            ("unlearned_retain_acc", unlearned_retain_acc),
            ("retrained_retain_acc", retrained_retain_acc),
            ("unlearned_test_acc", unlearned_test_acc),
            ("retrained_test_acc", retrained_test_acc),
        )
    }
    for name in ("retrained_retain_acc", "retrained_test_acc"):
        if accuracies[name].mean() <= 0:
            raise ValueError(f"{name} has mean 0: the utility ratios are undefined")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0; got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    clusters = _check_originals(originals, n_models)

    result = chosen(unlearned_confs, retrained_confs, seed=seed)
    means = {name: float(values.mean()) for name, values in accuracies.items()}
    utility = (means["unlearned_retain_acc"] / means["retrained_retain_acc"]) * (
        means["unlearned_test_acc"] / means["retrained_test_acc"]
    )

    if noise_floor is None and n_models // 2 >= chosen.min_models:
        noise_floor = _reference_noise_floor(retrained_confs, estimator=estimator, seed=seed)
    elif noise_floor is None:
        logger.info("too few models (%d) for the noise floor of %s", n_models, estimator)

    forget_ci: Interval | None = None
    final_ci: Interval | None = None
    if n_bootstrap:
        forget_samples, final_samples = _bootstrap(
            unlearned_confs,
            retrained_confs,
            accuracies,
            estimator,
            n_bootstrap,
            seed,
            processes=processes,
            on_replicate=on_replicate,
            clusters=clusters,
        )
        forget_ci = _bias_corrected_interval(forget_samples, result.forget_quality, confidence)
        final_ci = _bias_corrected_interval(
            final_samples, result.forget_quality * utility, confidence
        )

    return ScoreReport(
        estimator=estimator,
        forget_quality=result.forget_quality,
        final_score=result.forget_quality * utility,
        epsilons=result.epsilons,
        points=result.points,
        noise_floor=noise_floor,
        forget_quality_ci=forget_ci,
        final_score_ci=final_ci,
        n_models=n_models,
        n_examples=n_examples,
        unlearned_retain_acc=means["unlearned_retain_acc"],
        retrained_retain_acc=means["retrained_retain_acc"],
        unlearned_test_acc=means["unlearned_test_acc"],
        retrained_test_acc=means["retrained_test_acc"],
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        bootstrap_originals=len(clusters) if clusters else 1,
    )


def _check_originals(
    originals: np.ndarray | Sequence[int] | None, n_models: int
) -> list[np.ndarray] | None:
    """The unlearned rows of each original, in original order; None for one original."""
    if originals is None:
        return None
    labels = np.asarray(originals)
    if labels.shape != (n_models,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"originals must give one integer per unlearned model ({n_models}); "
            f"got shape {labels.shape}, dtype {labels.dtype}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError("originals must be indices from 0")
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    return groups if len(groups) > 1 else None


def bootstrap_processes() -> int:
    """Worker processes for a bootstrap on this machine: one per usable CPU, at most 8."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_BOOTSTRAP_PROCESSES))


def _bias_corrected_interval(samples: np.ndarray, estimate: float, confidence: float) -> Interval:
    """Bias-corrected percentile bootstrap interval (Efron 1981), widened to hold `estimate`.

    Resampling models with replacement duplicates values, which moves both estimators'
    replicates away from the estimate (the competition rule's F drops: duplicates make
    small-count tails more extreme). The correction re-centres the percentiles on the
    estimate: z0 = Phi^-1(share of replicates below it), percentiles Phi(2 z0 -+ z).
    """
    n = samples.size
    share_below = (np.sum(samples < estimate) + 0.5 * np.sum(samples == estimate)) / n
    normal = NormalDist()  # the standard library's: scipy.stats costs a second to import
    bias = normal.inv_cdf(float(np.clip(share_below, 0.5 / n, 1.0 - 0.5 / n)))
    z = normal.inv_cdf((1.0 - confidence) / 2.0)
    levels = np.array([normal.cdf(2 * bias + z), normal.cdf(2 * bias - z)])
    low, high = np.percentile(samples, 100.0 * levels)
    return float(min(low, estimate)), float(max(high, estimate))


_Draw = tuple[np.ndarray, np.ndarray, np.ndarray, int]
"""One resample: unlearned rows, retrained rows, examples, and the estimator's seed."""


def _bootstrap(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    accuracies: Mapping[str, np.ndarray] | None,
    estimator: str,
    n_bootstrap: int,
    seed: int,
    *,
    processes: int = 1,
    on_replicate: ReplicateProgress | None = None,
    clusters: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of F and of the final score (= F without accuracies).

    Every resample is drawn here, in one stream, before any is scored, so `processes` (worker
    processes scoring replicates side by side) changes the time, never the numbers.
    `clusters`: the unlearned rows of each of K > 1 originals (two-stage draws), or None.
    """
    n_models, n_examples = unlearned.shape
    # A separate stream from the estimator's own seed so that neither shifts the other.
    rng = np.random.default_rng([seed, 0xB007])

    def draw_unlearned() -> np.ndarray:
        if clusters is None:  # the 2023 setting: runs resampled as one population
            return np.asarray(rng.integers(0, n_models, size=n_models))
        # Original slot k is filled by a drawn original; its runs are drawn from that
        # original's, as many as slot k had, so every replicate keeps N rows a side.
        drawn = rng.integers(0, len(clusters), size=len(clusters))
        rows = np.empty(n_models, dtype=np.int64)
        for slot, source in zip(clusters, drawn, strict=True):
            members = clusters[source]
            rows[slot] = members[rng.integers(0, members.size, size=slot.size)]
        return rows

    draws: list[_Draw] = [
        (
            draw_unlearned(),
            np.asarray(rng.integers(0, n_models, size=n_models)),
            np.asarray(rng.integers(0, n_examples, size=n_examples)),
            seed + 1 + replicate,
        )
        for replicate in range(n_bootstrap)
    ]
    forget_samples = np.empty(n_bootstrap)
    replicates = _score_replicates(unlearned, retrained, estimator, draws, processes)
    for done, forget in enumerate(replicates, start=1):
        forget_samples[done - 1] = forget
        if on_replicate is not None:
            on_replicate(done, n_bootstrap)
    if accuracies is None:
        return forget_samples, forget_samples.copy()
    final_samples = np.empty(n_bootstrap)
    for replicate, (unlearned_rows, retrained_rows, _, _) in enumerate(draws):
        utility = (
            accuracies["unlearned_retain_acc"][unlearned_rows].mean()
            / accuracies["retrained_retain_acc"][retrained_rows].mean()
        ) * (
            accuracies["unlearned_test_acc"][unlearned_rows].mean()
            / accuracies["retrained_test_acc"][retrained_rows].mean()
        )
        final_samples[replicate] = forget_samples[replicate] * utility
    return forget_samples, final_samples


def _replicate_forget(
    unlearned: np.ndarray, retrained: np.ndarray, estimator: str, draw: _Draw
) -> float:
    """F of one resample."""
    unlearned_rows, retrained_rows, examples, estimator_seed = draw
    # Epsilons of a resampled example only depend on its own column: compute each distinct
    # column once, then let the example resample repeat them.
    distinct, inverse = np.unique(examples, return_inverse=True)
    epsilons = get_estimator(estimator).compute_epsilons(
        unlearned[np.ix_(unlearned_rows, distinct)],
        retrained[np.ix_(retrained_rows, distinct)],
        estimator_seed,
    )
    return float(bucket_points(epsilons, len(unlearned_rows))[inverse].mean())


def _score_replicates(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    estimator: str,
    draws: Sequence[_Draw],
    processes: int,
) -> Iterator[float]:
    """F of each resample, in order; `processes` side by side when more than one: threads
    for an estimator that runs without the GIL, else spawned worker processes."""
    if processes <= 1 or len(draws) < 2:
        for draw in draws:
            yield _replicate_forget(unlearned, retrained, estimator, draw)
        return
    if get_estimator(estimator).threads_parallel:
        with ThreadPoolExecutor(max_workers=processes) as threads:
            yield from threads.map(
                lambda draw: _replicate_forget(unlearned, retrained, estimator, draw), draws
            )
        return
    # spawn, not fork: the caller may hold torch's thread pools, which a fork would copy.
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_replicate_worker,
        initargs=(unlearned, retrained, estimator),
    ) as pool:
        yield from pool.map(
            _replicate_in_worker, draws, chunksize=max(1, len(draws) // (processes * 8))
        )


_WORKER_INPUTS: tuple[np.ndarray, np.ndarray, str] | None = None


def _start_replicate_worker(unlearned: np.ndarray, retrained: np.ndarray, estimator: str) -> None:
    global _WORKER_INPUTS
    _WORKER_INPUTS = (unlearned, retrained, estimator)


def _replicate_in_worker(draw: _Draw) -> float:
    assert _WORKER_INPUTS is not None, "the pool's initializer did not run"
    return _replicate_forget(*_WORKER_INPUTS, draw)


def forget_quality_interval(
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    *,
    estimator: str = DEFAULT_ESTIMATOR,
    n_bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """Bootstrap interval of F alone (models and examples resampled, bias-corrected)."""
    chosen = get_estimator(estimator)
    unlearned_confs, retrained_confs = check_confidence_pair(
        unlearned_confs, retrained_confs, min_models=chosen.min_models
    )
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1; got {n_bootstrap}")
    samples, _ = _bootstrap(unlearned_confs, retrained_confs, None, estimator, n_bootstrap, seed)
    estimate = chosen(unlearned_confs, retrained_confs, seed=seed).forget_quality
    return _bias_corrected_interval(samples, estimate, confidence)


def _score_and_interval(entry: Any) -> tuple[float, Interval]:
    if isinstance(entry, ScoreReport):
        if entry.final_score_ci is None:
            raise ValueError("this report has no interval (it was scored with n_bootstrap=0)")
        return entry.final_score, entry.final_score_ci
    if isinstance(entry, Mapping):
        interval = entry.get("final_score_ci")
        if interval is None:
            raise ValueError("entry has no 'final_score_ci'")
        return float(entry["final_score"]), (float(interval[0]), float(interval[1]))
    score, interval = entry
    return float(score), (float(interval[0]), float(interval[1]))


def statistically_tied(first: Any, second: Any) -> bool:
    """True when two entries' final-score intervals overlap.

    Each entry is a ``ScoreReport``, a mapping with ``final_score`` and ``final_score_ci``
    (as stored from ``to_dict()``), or a ``(score, (low, high))`` pair. Overlapping 95%
    intervals is a conservative reading: entries called different here differ at well
    below the 5% level.
    """
    _, (low_1, high_1) = _score_and_interval(first)
    _, (low_2, high_2) = _score_and_interval(second)
    return low_1 <= high_2 and low_2 <= high_1
