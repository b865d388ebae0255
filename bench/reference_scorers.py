"""Two slower statements of the NeurIPS 2023 rule, used by bench_scorer.py as baselines.

* ``dense_epsilons``: the rule written the obvious way, as the organisers wrote it but in
  numpy: for every threshold a [N] boolean per side, i.e. dense [N, T] matrices (in chunks
  of thresholds to bound memory), four logarithms per threshold.
* ``searchsorted_epsilons``: a plain port that replaces the dense matrices by a binary
  search of every threshold in each sorted side (O(T log N) time, O(T) memory) but keeps one
  search per threshold and side and the logarithms per threshold.

Both build the thresholds exactly as ``harness.scoring.neurips2023`` does, so all three must
agree; bench_scorer.py checks that they do before it reports any timing.
"""

from __future__ import annotations

import numpy as np

from harness.scoring.neurips2023 import (
    DELTA,
    EPSILON_CAP,
    LEFT_EDGES_PER_WINDOW,
    SPIKE_RATIO,
    THRESHOLDS_PER_UNIT,
    WINDOW_BUFFER,
    _torch_float32_linspace,
)

_CHUNK = 4096  # thresholds per dense block: [512, 4096] booleans = 2 MB per side


def _thresholds(positive: np.ndarray, negative: np.ndarray):
    """(single thresholds, window lefts, window rights, peaky side, other side)."""
    pooled = np.concatenate([positive, negative])
    low, high = pooled.min(), pooled.max()
    single = _torch_float32_linspace(low, high, int(np.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    pos_range, neg_range = np.ptp(positive), np.ptp(negative)
    width = neg_range if pos_range > neg_range else pos_range
    peaky, other = (negative, positive) if pos_range >= neg_range else (positive, negative)
    low_edge = (peaky.min() + width) - WINDOW_BUFFER
    high_edge = peaky.max() + WINDOW_BUFFER
    right = np.linspace(
        low_edge, high_edge, int(np.ceil((high_edge - low_edge) * THRESHOLDS_PER_UNIT))
    )
    left = np.concatenate(
        [
            np.linspace(r - width - WINDOW_BUFFER, r - width + WINDOW_BUFFER, LEFT_EDGES_PER_WINDOW)
            for r in right
        ]
    )
    return single, left, np.repeat(right, LEFT_EDGES_PER_WINDOW), peaky, other


def _epsilon_from_counts(flagged_positive: np.ndarray, flagged_negative: np.ndarray, n: int):
    """Per-threshold epsilon from the two counts of flagged values (rates as the organisers
    compute them: each of the four a fraction of its own count)."""
    return _epsilon_from_rates(
        flagged_positive / n,
        (n - flagged_positive) / n,
        flagged_negative / n,
        (n - flagged_negative) / n,
    )


def _epsilon_from_rates(tpr, fnr, fpr, tnr) -> np.ndarray:
    """Per-threshold epsilon with the organisers' special cases; NaN marks a discarded one."""
    eps = np.zeros_like(fpr)
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    eps[perfect] = np.inf
    eps[(eps == 0) & (fpr * fnr == 0)] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.clip(
            np.fmax(np.log(1 - DELTA - fpr) - np.log(fnr), np.log(1 - DELTA - fnr) - np.log(fpr)),
            0,
            None,
        )
    return np.where(eps == 0, value, eps)


def _combine(per_threshold: list[np.ndarray]) -> float:
    eps = np.concatenate(per_threshold)
    eps = eps[~np.isnan(eps)]
    return float(np.clip(eps.max(), 0, EPSILON_CAP)) if eps.size else 0.0


def _spiked(positive: np.ndarray, negative: np.ndarray) -> bool:
    pos_range, neg_range = np.ptp(positive), np.ptp(negative)
    largest, smallest = max(pos_range, neg_range), min(pos_range, neg_range)
    return bool(largest > 0 and smallest / largest < SPIKE_RATIO)


def _sides(unlearned: np.ndarray, retrained: np.ndarray):
    retrained_is_positive = np.median(retrained, 0) > np.median(unlearned, 0)
    return (
        np.where(retrained_is_positive, retrained, unlearned),
        np.where(retrained_is_positive, unlearned, retrained),
    )


def dense_epsilons(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per-example epsilons from dense [N, T] comparisons."""
    positive, negative = _sides(unlearned, retrained)
    out = []
    for i in range(positive.shape[1]):
        pos, neg = positive[:, i], negative[:, i]
        if _spiked(pos, neg):
            out.append(EPSILON_CAP)
            continue
        single, left, right, peaky, other = _thresholds(pos, neg)
        parts = []
        for start in range(0, left.size, _CHUNK):
            lo, hi = left[start : start + _CHUNK], right[start : start + _CHUNK]
            tp = ((lo <= peaky[:, None]) & (peaky[:, None] <= hi)).sum(0)
            fp = ((lo <= other[:, None]) & (other[:, None] <= hi)).sum(0)
            parts.append(_epsilon_from_counts(tp, fp, pos.size))
        for start in range(0, single.size, _CHUNK):
            t = single[start : start + _CHUNK]
            tp = (pos[:, None] >= t).sum(0)
            fp = (neg[:, None] >= t).sum(0)
            parts.append(_epsilon_from_counts(tp, fp, pos.size))
        out.append(_combine(parts))
    return np.array(out)


def searchsorted_epsilons(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per-example epsilons from one binary search per threshold and side."""
    positive, negative = _sides(unlearned, retrained)
    n = positive.shape[0]
    out = []
    for i in range(positive.shape[1]):
        pos, neg = positive[:, i], negative[:, i]
        if _spiked(pos, neg):
            out.append(EPSILON_CAP)
            continue
        single, left, right, peaky, other = _thresholds(pos, neg)
        peaky, other = np.sort(peaky), np.sort(other)

        def inside(side: np.ndarray, left=left, right=right) -> np.ndarray:
            count = np.searchsorted(side, right, "right") - np.searchsorted(side, left, "left")
            return np.maximum(count, 0)

        window = _epsilon_from_counts(inside(peaky), inside(other), n)
        tp = n - np.searchsorted(np.sort(pos), single, "left")
        fp = n - np.searchsorted(np.sort(neg), single, "left")
        out.append(_combine([window, _epsilon_from_counts(tp, fp, n)]))
    return np.array(out)
