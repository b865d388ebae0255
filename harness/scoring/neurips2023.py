"""The NeurIPS 2023 forget-quality estimator, reproduced exactly and computed fast.

Input: unlearned and retrained confidence matrices [N models, S forget examples] (see
``harness.confidence``). Output: one epsilon per forget example, as the organisers' released
scorer (google-deepmind/unlearning_evaluation, ``metric.py``) computes it:

* the side with the larger median is "positive" (ties: unlearned);
* spike guard: if the smaller of the two ranges is below 1% of the larger, epsilon = 50;
* family A, single thresholds ``conf >= t`` on ``ceil(100 * range)`` points of a float32
  ``torch.linspace`` over the pooled 2N values;
* family B, windows ``l <= conf <= r`` in which the side with the smaller range is positive:
  ``ceil(100 * span)`` right edges (400 or 401) and, for each, 400 left edges;
* per threshold, with delta = 1e-5: FPR = FNR = 0 gives +inf, exactly one of them 0 discards
  the threshold, otherwise ``max(log(1-delta-FPR) - log FNR, log(1-delta-FNR) - log FPR)``
  clipped below at 0 (a threshold where both logs are undefined is discarded too);
* epsilon = max over the kept thresholds of both families, clipped to [0, 50].

Why it is fast (about 4 s per example at N = 512 in the organisers' code, about a
millisecond here): their code builds dense [N, T] boolean tensors for T ~ 160,000 windows.
Here the rates of a threshold depend only on two counts, so

* the pooled 2N values are sorted once, and each value carries a weight (N + 1 on the
  positive side, 1 on the other), so a single running sum gives both counts below a
  threshold as one integer ``code = (N + 1) * n_pos + n_neg``;
* counts below the 160,000 left edges come from a bucket index over the sorted values
  (``_count_codes``), O(1) per threshold instead of a binary search, exact because the bucket
  map is monotone and ties within a bucket are compared directly;
* epsilon depends only on ``code``, so it is read from a table of all (N + 1)^2 outcomes,
  computed once per N, instead of four logarithms per threshold.

The thresholds themselves are built bit for bit as the organisers' code builds them (numpy
float64 ``linspace`` for windows; for family A the float32 ``torch.linspace`` of their torch
version, whose CPU kernel computes ``start + step * i`` with a fused multiply-add), so that
a sample lying on a threshold is classified the same way.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "DELTA",
    "EPSILON_CAP",
    "neurips2023_epsilons",
    "neurips2023_epsilon_table",
]

logger = logging.getLogger(__name__)

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
SPIKE_RATIO = 0.01  # smaller range / larger range below this: epsilon = cap
WINDOW_BUFFER = 2.0
LEFT_EDGES_PER_WINDOW = 400  # ceil(2 * buffer * THRESHOLDS_PER_UNIT)

_DISCARDED = -np.inf  # table value of a discarded threshold: never wins a max
_MAX_LATTICE = 1 << 20  # lattice points; beyond this, search each edge instead
# A pooled value this close (relative to the data's magnitude) to a lattice point might
# lie between a left edge and its lattice point. Float roundings move an edge by about
# 1e-15 relative: a margin of 1000.
_LATTICE_TOLERANCE = 1e-12
_MAX_ON_LATTICE = 8  # values settled one by one; more (quantised data): search every edge


@functools.lru_cache(maxsize=16)
def neurips2023_epsilon_table(n_models: int) -> np.ndarray:
    """Epsilon of every threshold outcome, read-only float64 [(N + 1) ** 2].

    Index ``(N + 1) * a + b``: a of the N positive-side values and b of the N negative-side
    values are predicted positive. Values: +inf (perfect split), -inf (discarded), else the
    clipped epsilon of the organisers' rule.
    """
    n = n_models
    a = np.arange(n + 1, dtype=np.float64)[:, None]
    b = np.arange(n + 1, dtype=np.float64)[None, :]
    tpr, fpr = a / n, b / n
    fnr, tnr = (n - a) / n, (n - b) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        # log of a negative number (FPR or FNR = 1) is NaN: fmax then keeps the other term.
        term_fpr = np.log(1.0 - DELTA - fpr) - np.log(fnr)
        term_fnr = np.log(1.0 - DELTA - fnr) - np.log(fpr)
        value = np.maximum(np.fmax(term_fpr, term_fnr), 0.0)  # NaN stays NaN
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    one_sided = (fpr * fnr == 0) & ~perfect
    table = np.where(np.isnan(value) | one_sided, _DISCARDED, value)
    table = np.where(perfect, np.inf, table).ravel()
    table.setflags(write=False)
    return table


def _torch_float32_linspace(start: float, stop: float, count: int) -> np.ndarray:
    """``torch.linspace(start, stop, count)`` for float64 0-d tensors on CPU, as float64.

    torch's default dtype makes these thresholds float32. Its CPU kernel computes
    ``start + step * i`` for the first half and ``stop - step * (count - 1 - i)`` for the
    second, in float32 contracted to one fused multiply-add: the product of two float32 is
    exact in float64, so rounding the float64 result once to float32 reproduces it.
    """
    if count <= 0:
        return np.empty(0)
    first, last = np.float32(start), np.float32(stop)
    if count == 1:
        return np.array([first], dtype=np.float64)
    step = np.float64((last - first) / np.float32(count - 1))
    index = np.arange(count, dtype=np.float64)
    half = count // 2
    values = np.empty(count, dtype=np.float64)
    values[:half] = (np.float64(first) + step * index[:half]).astype(np.float32)
    values[half:] = (np.float64(last) - step * (count - 1 - index[half:])).astype(np.float32)
    return values


@functools.lru_cache(maxsize=4)
def _lattice_index(n_right: int) -> np.ndarray:
    """Lattice position of left edge m of window k, read-only [n_right, 400].

    With D = n_right - 1 the position is (399 k + D m) / gcd(399, D): k + m when D = 399.
    """
    divisions = n_right - 1
    gcd = math.gcd(LEFT_EDGES_PER_WINDOW - 1, divisions)
    k = np.arange(n_right)[:, None]
    m = np.arange(LEFT_EDGES_PER_WINDOW)[None, :]
    index = ((LEFT_EDGES_PER_WINDOW - 1) * k + divisions * m) // gcd
    index.setflags(write=False)
    return index


def _window_codes_on_lattice(
    values: np.ndarray,
    weights: np.ndarray,
    right: np.ndarray,
    width: float,
    codes_to_right: np.ndarray,
) -> np.ndarray | None:
    """Weighted counts inside every window, int64 [n_right, 400]; None if unproven.

    ``codes_to_right`` [n_right] holds the weighted counts at or below each right edge; the
    result subtracts the weighted counts below each left edge, computed as follows.

    Left edge m of window k is, up to a few float roundings, ``origin + 4 (k / D + m / 399)``
    with D = n_right - 1 (399 or 400 in practice): a point of the lattice
    ``origin + q * unit`` with ``unit = 4 gcd(399, D) / (399 D)``. Counting below every
    lattice point at once is a histogram and a running sum, O(2N + lattice size), instead of
    a search per edge, and it is exact for every value farther from the lattice than the
    roundings can move an edge. The few values on (or within the tolerance of) a lattice
    point -- the peaky side's minimum always is one -- are compared directly with the actual
    edges at that point (a few hundred). Many such values (quantised data): None, and the
    caller searches all edges.
    """
    n_right = right.size
    divisions = n_right - 1
    if divisions < 1:
        return None
    gcd = math.gcd(LEFT_EDGES_PER_WINDOW - 1, divisions)
    unit = 2 * WINDOW_BUFFER * gcd / ((LEFT_EDGES_PER_WINDOW - 1) * divisions)
    size = 2 * (LEFT_EDGES_PER_WINDOW - 1) * divisions // gcd + 1
    if size > _MAX_LATTICE:
        return None
    origin = float((right[0] - width) - WINDOW_BUFFER)  # left edge 0 of window 0
    magnitude = max(1.0, float(np.abs(values).max()), abs(origin) + 2 * WINDOW_BUFFER)
    position = (values - origin) / unit
    nearest = np.rint(position)
    on_lattice = np.flatnonzero(
        (np.abs(position - nearest) * unit < _LATTICE_TOLERANCE * magnitude)
        & (nearest >= 0)
        & (nearest < size)
    )
    if on_lattice.size > _MAX_ON_LATTICE:
        return None
    # Value x is below lattice point q iff q >= floor(position(x)) + 1; a value on point q
    # counts as not below q for now and is settled exactly below.
    first_above = np.floor(position) + 1
    first_above[on_lattice] = nearest[on_lattice] + 1
    first_above = np.clip(first_above, 0, size).astype(np.intp)
    below = np.cumsum(np.bincount(first_above, weights=weights, minlength=size + 1)[:size])
    below = below.astype(np.int64)
    if gcd == LEFT_EDGES_PER_WINDOW - 1:  # D = 399: edge (k, m) sits on point k + m
        to_left = sliding_window_view(below, LEFT_EDGES_PER_WINDOW)[:n_right]
    else:
        to_left = below[_lattice_index(n_right)]
    codes = codes_to_right[:, None] - to_left
    if on_lattice.size:
        rows = np.arange(n_right)
        for value_index in on_lattice:
            # Edges sitting on this lattice point: 399 k + D m = q * gcd.
            remainder = int(nearest[value_index]) * gcd - (LEFT_EDGES_PER_WINDOW - 1) * rows
            columns, exact = np.divmod(remainder, divisions)
            hit = (exact == 0) & (columns >= 0) & (columns < LEFT_EDGES_PER_WINDOW)
            k, m = rows[hit], columns[hit]
            codes[k, m] -= weights[value_index] * (
                values[value_index] < _left_edge(right[k], width, m)
            )
    return codes


def _example_epsilon(positive: np.ndarray, negative: np.ndarray, table: np.ndarray) -> float:
    """Epsilon of one forget example; `positive` is the side with the larger median."""
    n = positive.size
    pos_range = float(positive.max() - positive.min())
    neg_range = float(negative.max() - negative.min())
    largest = pos_range if pos_range > neg_range else neg_range
    smallest = neg_range if pos_range > neg_range else pos_range
    # Both ranges 0 gives 0/0 in the organisers' code, which is not < 0.01: no guard then.
    if largest > 0 and smallest / largest < SPIKE_RATIO:
        return EPSILON_CAP

    pooled = np.concatenate([positive, negative])
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    from_positive = order < n
    heavy = n + 1  # weight of one value of the side counted as "positive"

    # Family A: predict positive iff conf >= t.
    codes_a = np.concatenate([[0], np.cumsum(np.where(from_positive, heavy, 1))])
    lowest, highest = float(values[0]), float(values[-1])
    single = _torch_float32_linspace(
        lowest, highest, int(np.ceil((highest - lowest) * THRESHOLDS_PER_UNIT))
    )
    best = _DISCARDED
    if single.size:
        codes_at_or_above = codes_a[-1] - codes_a[np.searchsorted(values, single, "left")]
        best = float(table[codes_at_or_above].max())

    # Family B: predict "peaky" (the side with the smaller range) iff l <= conf <= r.
    peaky_is_positive = pos_range < neg_range
    peaky = positive if peaky_is_positive else negative
    width = smallest
    low_edge = (float(peaky.min()) + width) - WINDOW_BUFFER
    high_edge = float(peaky.max()) + WINDOW_BUFFER
    n_right = int(np.ceil((high_edge - low_edge) * THRESHOLDS_PER_UNIT))
    right = np.linspace(low_edge, high_edge, n_right)
    weights_b = np.where(from_positive == peaky_is_positive, heavy, 1)
    codes_b = np.concatenate([[0], np.cumsum(weights_b)])
    codes_to_right = codes_b[np.searchsorted(values, right, "right")]
    codes_inside = _window_codes_on_lattice(values, weights_b, right, width, codes_to_right)
    if codes_inside is None:
        to_left = codes_b[np.searchsorted(values, _left_edges(right, width), "left")]
        codes_inside = codes_to_right[:, None] - to_left
    # l > r makes both count differences <= 0; the window is empty then: code 0.
    np.maximum(codes_inside, 0, out=codes_inside)
    best = max(best, float(table[codes_inside].max()))

    if best == _DISCARDED:
        # Only for degenerate inputs (both sides constant and equal); the organisers' code
        # stops at an assertion here. No test distinguishes the two sides: epsilon 0.
        logger.debug("every threshold was discarded; epsilon set to 0")
        return 0.0
    return min(best, EPSILON_CAP)


def _left_edge(right: np.ndarray, width: float, column: np.ndarray) -> np.ndarray:
    """Left edge number `column` of the windows with right edges `right`, bit for bit."""
    starts = (right - width) - WINDOW_BUFFER
    stops = (right - width) + WINDOW_BUFFER
    steps = (stops - starts) / (LEFT_EDGES_PER_WINDOW - 1)
    inner = column.astype(np.float64) * steps + starts
    return np.where(column == LEFT_EDGES_PER_WINDOW - 1, stops, inner)


def _left_edges(right: np.ndarray, width: float) -> np.ndarray:
    """Row k: ``np.linspace(r_k - w - 2, r_k - w + 2, 400)``, bit for bit, [n_right, 400].

    Written out with the same float operations as numpy's linspace (``m * step + start``,
    the last point set to ``stop``) so that all rows come from one broadcast.
    """
    starts = (right - width) - WINDOW_BUFFER
    stops = (right - width) + WINDOW_BUFFER
    steps = (stops - starts) / (LEFT_EDGES_PER_WINDOW - 1)
    left = np.arange(LEFT_EDGES_PER_WINDOW, dtype=np.float64) * steps[:, None]
    left += starts[:, None]
    left[:, -1] = stops
    return left


def neurips2023_epsilons(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per-example epsilon of the NeurIPS 2023 rule, float64 [S], in [0, 50].

    Args:
        unlearned, retrained: [N, S] float64 confidences, already validated (finite, same
            shape, N >= 2).
    """
    n_models, n_examples = unlearned.shape
    table = neurips2023_epsilon_table(n_models)
    retrained_is_positive = np.median(retrained, axis=0) > np.median(unlearned, axis=0)
    positive = np.where(retrained_is_positive, retrained, unlearned)
    negative = np.where(retrained_is_positive, unlearned, retrained)
    # Columns are independent; a contiguous copy per column keeps the loop cache-friendly.
    positive_t = np.ascontiguousarray(positive.T)
    negative_t = np.ascontiguousarray(negative.T)
    return np.array(
        [_example_epsilon(positive_t[i], negative_t[i], table) for i in range(n_examples)],
        dtype=np.float64,
    )
