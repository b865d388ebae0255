"""The NeurIPS 2023 forget-quality estimator, reproduced exactly and computed fast.

Input: unlearned and retrained confidence matrices [N models, S forget examples] (see
``harness.scoring.confidence``). Output: one epsilon per forget example, as the organisers' released
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
Here a threshold's rates depend only on two counts, and

* the pooled 2N values are sorted once; each carries a weight (N + 1 on the side counted as
  positive, 1 on the other), so one running sum gives both counts below a threshold as one
  integer ``code = (N + 1) * n_pos + n_neg``;
* epsilon depends only on that code, so it is read from a table of all (N + 1)^2 outcomes,
  built once per N (up to N = 1024; beyond, computed from the counts), instead of four
  logarithms per threshold;
* the 160,000 window left edges lie (up to float rounding) on a lattice of 799 points, so
  the counts below all of them come from one histogram (``_LeftEdgeLattice``); values that
  sit on a lattice point, such as the peaky side's minimum, are compared with the actual
  float edges, so the counts stay exact. When the lattice does not apply (401 right edges,
  quantised data) the edges actually needed are searched (``_SearchedLeftEdges``);
* epsilon rises with the positive count and falls with the negative count, so the counts
  at the two ends of a block of 10 left edges bound the epsilon of the whole block; blocks
  are evaluated best bound first and dropped once they cannot beat the best value found
  (``_best_window``): typically well under 1% of the windows are ever evaluated.

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

from harness.scoring import neurips2023_kernel

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
_MAX_TABLE_MODELS = 1024  # per side; beyond, epsilons are computed from the counts
_MAX_LATTICE = 4096  # lattice points (799 for 400 right edges); beyond: search edges
# A pooled value this close (relative to the data's magnitude) to a lattice point might
# lie between a left edge and its lattice point. Float roundings move an edge by about
# 1e-15 relative: a margin of 1000.
_LATTICE_TOLERANCE = 1e-12
_MAX_ON_LATTICE = 8  # values settled one by one; more (quantised data): search every edge
_BLOCK = 10  # left edges per block of the branch and bound (divides 400)
_CHUNK_BLOCKS = 64  # blocks evaluated per step, best bounds first


def _epsilon_of_counts(positives: np.ndarray, negatives: np.ndarray, n: int) -> np.ndarray:
    """Epsilon of thresholds that flag `positives` of the N positive-side values and
    `negatives` of the N negative-side ones (broadcast integer arrays), float64.

    Values: +inf (perfect split), -inf (discarded), else the clipped epsilon of the
    organisers' rule. Rates are fractions of N, each computed from its own count as theirs.
    """
    a = np.asarray(positives, dtype=np.float64)
    b = np.asarray(negatives, dtype=np.float64)
    tpr, fpr = a / n, b / n
    fnr, tnr = (n - a) / n, (n - b) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        # log of a negative number (FPR or FNR = 1) is NaN: fmax then keeps the other term.
        term_fpr = np.log(1.0 - DELTA - fpr) - np.log(fnr)
        term_fnr = np.log(1.0 - DELTA - fnr) - np.log(fpr)
        value = np.maximum(np.fmax(term_fpr, term_fnr), 0.0)  # NaN stays NaN
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    one_sided = (fpr * fnr == 0) & ~perfect
    epsilon: np.ndarray = np.where(np.isnan(value) | one_sided, _DISCARDED, value)
    return np.where(perfect, np.inf, epsilon)


@functools.lru_cache(maxsize=8)
def neurips2023_epsilon_table(n_models: int) -> np.ndarray:
    """Epsilon of every threshold outcome, read-only float64 [(N + 1) ** 2].

    Index ``(N + 1) * a + b``: a of the N positive-side values and b of the N negative-side
    values are predicted positive (see ``_epsilon_of_counts``).
    """
    counts = np.arange(n_models + 1)
    table = _epsilon_of_counts(counts[:, None], counts[None, :], n_models).ravel()
    table.setflags(write=False)
    return table


class _EpsilonLookup:
    """Epsilon of count codes ``(N + 1) * a + b``, and an upper envelope over count ranges.

    Reads a table of all outcomes up to ``_MAX_TABLE_MODELS`` models per side (8 MB at
    N = 1024) and computes from the counts beyond, so memory stays O(N) for large N.
    """

    def __init__(self, n_models: int) -> None:
        self.n = n_models
        small = n_models <= _MAX_TABLE_MODELS
        self._table = neurips2023_epsilon_table(n_models) if small else None

    def of_codes(self, codes: np.ndarray) -> np.ndarray:
        if self._table is not None:
            values: np.ndarray = self._table[codes]
            return values
        positives, negatives = np.divmod(codes, self.n + 1)
        return _epsilon_of_counts(positives, negatives, self.n)

    def envelope(self, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
        """Largest epsilon over a' <= positives and b' >= negatives.

        Epsilon grows with a and falls with b wherever a threshold is kept; the discarded
        edges (a = N with b > 0, b = 0 with a < N) are skipped by moving one step inwards,
        and the single perfect split (a = N, b = 0) is +inf.
        """
        inner = np.minimum(positives, self.n - 1) * (self.n + 1) + np.maximum(negatives, 1)
        bound = self.of_codes(inner)
        return np.where((positives == self.n) & (negatives == 0), np.inf, bound)


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


def _lattice_point(k: np.ndarray, m: np.ndarray, divisions: int, gcd: int) -> np.ndarray:
    """Lattice point of left edge m of window k: (399 k + D m) / gcd (k + m when D = 399)."""
    point: np.ndarray
    if gcd == divisions:
        point = k + m
    else:
        point = ((LEFT_EDGES_PER_WINDOW - 1) * k + divisions * m) // gcd
    return point


@functools.lru_cache(maxsize=8)
def _block_points(n_right: int, divisions: int, gcd: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice points of every block's first and last left edge, [n_right, 400 / _BLOCK]."""
    rows = np.arange(n_right)[:, None]
    first = np.arange(0, LEFT_EDGES_PER_WINDOW, _BLOCK)[None, :]
    first_points = _lattice_point(rows, first, divisions, gcd)
    last_points = _lattice_point(rows, first + _BLOCK - 1, divisions, gcd)
    first_points.setflags(write=False)
    last_points.setflags(write=False)
    return first_points, last_points


class _LeftEdgeLattice:
    """Weighted counts below the window left edges, via the lattice they lie on.

    Left edge m of window k is, up to a few float roundings, ``origin + 4 (k / D + m / 399)``
    with D = n_right - 1 (399 or 400 in practice): the point ``q = (399 k + D m) / g`` of the
    lattice ``origin + q * unit``, ``g = gcd(399, D)``, ``unit = 4 g / (399 D)``. Counting
    below every lattice point at once is a histogram and a running sum, O(2N + lattice
    size), instead of one search per edge. It is exact for every value farther from the
    lattice than the roundings can move an edge; the few values on (or within the tolerance
    of) a lattice point -- the peaky side's minimum always is one -- are compared directly
    with the actual float edges sitting on that point and recorded as corrections.
    """

    def __init__(
        self,
        below: np.ndarray,
        gcd: int,
        divisions: int,
        correction_ids: np.ndarray,
        correction_weights: np.ndarray,
    ) -> None:
        self._below = below  # int64 [size + 1]: weighted count below lattice point q
        self._n_right = divisions + 1
        self._gcd = gcd
        self._divisions = divisions
        # Edges (id k * 400 + m) below which a lattice-bound value was found: sorted, unique.
        self._correction_ids, inverse = np.unique(correction_ids, return_inverse=True)
        self._correction_deltas = np.bincount(
            inverse, weights=correction_weights, minlength=self._correction_ids.size
        ).astype(np.int64)

    @classmethod
    def build(
        cls, values: np.ndarray, weights: np.ndarray, right: np.ndarray, width: float
    ) -> _LeftEdgeLattice | None:
        """The lattice of these windows, or None when exactness cannot be proven cheaply."""
        n_right = right.size
        divisions = n_right - 1
        if divisions < 1:
            return None
        gcd = math.gcd(LEFT_EDGES_PER_WINDOW - 1, divisions)
        unit = 2 * WINDOW_BUFFER * gcd / ((LEFT_EDGES_PER_WINDOW - 1) * divisions)
        size = 2 * (LEFT_EDGES_PER_WINDOW - 1) * divisions // gcd + 1
        if size > _MAX_LATTICE:  # 401 right edges: 320,000 points, more than it saves
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
        # Value x is below lattice point q iff q >= floor(position(x)) + 1. A value on point
        # q counts as not below q here; the edges on q are settled one by one below.
        first_above = np.floor(position) + 1
        first_above[on_lattice] = nearest[on_lattice] + 1
        first_above = np.clip(first_above, 0, size + 1).astype(np.intp)
        histogram = np.bincount(first_above, weights=weights, minlength=size + 2)
        below = np.cumsum(histogram[: size + 1]).astype(np.int64)  # whole numbers
        ids, added = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
        rows = np.arange(n_right)
        for value_index in on_lattice:
            # The edges sitting on this lattice point: 399 k + D m = q * gcd.
            remainder = int(nearest[value_index]) * gcd - (LEFT_EDGES_PER_WINDOW - 1) * rows
            columns, exact = np.divmod(remainder, divisions)
            hit = (exact == 0) & (columns >= 0) & (columns < LEFT_EDGES_PER_WINDOW)
            k, m = rows[hit], columns[hit]
            is_below = values[value_index] < _left_edge(right[k], width, m)
            ids.append((k * LEFT_EDGES_PER_WINDOW + m)[is_below])
            added.append(np.full(int(is_below.sum()), weights[value_index], dtype=np.int64))
        return cls(below, gcd, divisions, np.concatenate(ids), np.concatenate(added))

    def codes_below(self, k: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Exact weighted counts below left edges (k, m) (broadcast integer arrays)."""
        codes: np.ndarray = self._below[_lattice_point(k, m, self._divisions, self._gcd)]
        if self._correction_ids.size:
            edge_ids = k * LEFT_EDGES_PER_WINDOW + m
            slot = np.searchsorted(self._correction_ids, edge_ids)
            slot = np.minimum(slot, self._correction_ids.size - 1)
            hit = self._correction_ids[slot] == edge_ids
            codes = codes + np.where(hit, self._correction_deltas[slot], 0)
        return codes

    def block_bounds(self, base: int) -> tuple[np.ndarray, np.ndarray]:
        """Per block [n_right, 400 / _BLOCK]: at most the positives below its first edge,
        and at least the negatives below its last edge (codes are positives * base +
        negatives).

        Read without the corrections: a correction only adds values lying on point q,
        which are below point q + 1.
        """
        first_points, last_points = _block_points(self._n_right, self._divisions, self._gcd)
        positives, negatives = np.divmod(self._below, base)  # a few hundred points
        return positives[first_points], negatives[last_points + 1]


class _SearchedLeftEdges:
    """Exact weighted counts below any left edges, one binary search per edge asked for.

    Used when the lattice does not apply (401 right edges, whose lattice has 320,000
    points, or many values on lattice points): the branch and bound asks for only a
    fraction of the 160,000 edges, so searching those few is cheap.
    """

    def __init__(
        self, values: np.ndarray, codes: np.ndarray, right: np.ndarray, width: float
    ) -> None:
        self._values, self._codes, self._right, self._width = values, codes, right, width

    def codes_below(self, k: np.ndarray, m: np.ndarray) -> np.ndarray:
        k, m = np.broadcast_arrays(k, m)
        edges = _left_edge(self._right[k], self._width, m)
        found: np.ndarray = self._codes[np.searchsorted(self._values, edges, "left")]
        return found

    def block_bounds(self, base: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact positives below each block's first edge, negatives below its last."""
        rows = np.arange(self._right.size)[:, None]
        first = np.arange(0, LEFT_EDGES_PER_WINDOW, _BLOCK)[None, :]
        positives = self.codes_below(rows, first) // base
        negatives = self.codes_below(rows, first + _BLOCK - 1) % base
        return positives, negatives


def _best_window(
    lattice: _LeftEdgeLattice | _SearchedLeftEdges,
    codes_to_right: np.ndarray,
    n_models: int,
    best: float,
) -> float:
    """Max epsilon over all windows, given a value already reached (``best``).

    Branch and bound: each row of 400 left edges is cut into blocks; the counts at a
    block's two ends bound every count inside it, so the envelope bounds its epsilon.
    Blocks are evaluated by decreasing bound and dropped once their bound cannot beat the
    best value found: typically under 1% of the 160,000 windows are ever evaluated.
    """
    base = n_models + 1
    epsilons = _EpsilonLookup(n_models)
    positives_before, negatives_before = lattice.block_bounds(base)
    blocks_per_row = positives_before.shape[1]
    # The widest window of a block holds the most positives, the narrowest the fewest
    # negatives; epsilon is increasing in the first and decreasing in the second.
    right_pos, right_neg = codes_to_right // base, codes_to_right % base
    # Counts never exceed n_models here; only the lower clip is needed.
    most_pos = np.maximum(right_pos[:, None] - positives_before, 0)
    fewest_neg = np.maximum(right_neg[:, None] - negatives_before, 0)
    bound = epsilons.envelope(most_pos, fewest_neg).ravel()
    candidates = np.flatnonzero(bound > best)
    offsets = np.arange(_BLOCK)[None, :]
    while candidates.size:
        if candidates.size > _CHUNK_BLOCKS:  # the best bounds first, without a full sort
            split = np.argpartition(-bound[candidates], _CHUNK_BLOCKS - 1)
            chunk, candidates = candidates[split[:_CHUNK_BLOCKS]], candidates[split[_CHUNK_BLOCKS:]]
        else:
            chunk, candidates = candidates, candidates[:0]
        k = (chunk // blocks_per_row)[:, None]
        m = (chunk % blocks_per_row)[:, None] * _BLOCK + offsets
        inside = codes_to_right[k] - lattice.codes_below(k, m)
        # l > r makes both count differences <= 0: the window is empty, code 0.
        np.maximum(inside, 0, out=inside)
        best = max(best, float(epsilons.of_codes(inside).max()))
        candidates = candidates[bound[candidates] > best]
    return best


def _example_epsilon(positive: np.ndarray, negative: np.ndarray) -> float:
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
        best = float(_EpsilonLookup(n).of_codes(codes_at_or_above).max())

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
    left_counts = _LeftEdgeLattice.build(values, weights_b, right, width) or _SearchedLeftEdges(
        values, codes_b, right, width
    )
    best = _best_window(left_counts, codes_to_right, n, best)

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


def neurips2023_epsilons(
    unlearned: np.ndarray, retrained: np.ndarray, *, compiled: bool | None = None
) -> np.ndarray:
    """Per-example epsilon of the NeurIPS 2023 rule, float64 [S], in [0, 50].

    Args:
        unlearned, retrained: [N, S] float64 confidences, already validated (finite, same
            shape, N >= 2).
        compiled: use the compiled kernel (``neurips2023_kernel``, same numbers, ~5x
            faster); None: whenever numba is installed and N fits the epsilon table.
    """
    n_models, n_examples = unlearned.shape
    retrained_is_positive = np.median(retrained, axis=0) > np.median(unlearned, axis=0)
    positive = np.where(retrained_is_positive, retrained, unlearned)
    negative = np.where(retrained_is_positive, unlearned, retrained)
    # Columns are independent; a contiguous copy per column keeps the loop cache-friendly.
    positive_t = np.ascontiguousarray(positive.T)
    negative_t = np.ascontiguousarray(negative.T)
    fits_table = n_models <= _MAX_TABLE_MODELS
    if compiled is None:
        compiled = neurips2023_kernel.available() and fits_table
    if compiled:
        if not fits_table:
            raise ValueError(
                f"the compiled kernel reads the epsilon table, built up to "
                f"{_MAX_TABLE_MODELS} models per side; got {n_models}"
            )
        return neurips2023_kernel.kernel_epsilons(
            positive_t, negative_t, neurips2023_epsilon_table(n_models)
        )
    return np.array(
        [_example_epsilon(positive_t[i], negative_t[i]) for i in range(n_examples)],
        dtype=np.float64,
    )
