"""Compiled kernel of the NeurIPS 2023 epsilon: the same numbers as ``neurips2023``, ~5x faster.

Input: the positive and negative sides of many forget examples, float64 [S, N] each (rows
are examples), and the epsilon table of N models per side
(``neurips2023.neurips2023_epsilon_table``). Output: one epsilon per example, float64 [S].

The numpy implementation (``harness.scoring.neurips2023``) spends most of its time on the
Python overhead of some sixty small array calls per example; a bootstrap scores ~50,000
example columns, so that overhead dominated a dry-run. This kernel computes the rule
directly, example by example in compiled code (numba), with the same thresholds built by
the same float operations:

* family A: the float32 ``torch.linspace`` thresholds, counts by one sweep over the sorted
  pooled values;
* family B: the float64 ``np.linspace`` right edges and, per right edge, the 400 left edges
  of ``neurips2023._left_edge`` (``m * step + start``, the last one ``stop``); counts below
  an edge come from walking a pointer over the sorted values, which is exact whatever
  order the edges come in. Best first, with bounds from the counts at the two ends of a
  range of left edges (epsilon grows with the positives inside and falls with the
  negatives): rows by decreasing bound, in a row its 8 spans of 50 left edges, in a span
  its 5 blocks of 10, each evaluated only while its bound beats the best value found.

The table gives every threshold's epsilon from its two counts, so no logarithm is computed
here and the results are bit for bit those of the numpy path (tests compare both on the
golden cases and on random inputs). Compiled on first use and cached on disk (numba's
``cache=True``) and numba imported then, not with this module; ``available()`` is False
when numba is not installed, and callers then use the numpy path.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

import numpy as np

__all__ = ["available", "kernel_epsilons", "warm_up"]

logger = logging.getLogger(__name__)

_JITTED: list[str] = []  # callees first: each is compiled after the functions it calls
_COMPILE_LOCK = threading.Lock()
_compiled = False


def _jit(function: Any) -> Any:
    """Mark `function` for numba; it stays plain Python until the kernel is first used."""
    _JITTED.append(function.__name__)
    return function


def _compile() -> None:
    """Turn the marked functions into numba dispatchers (on-disk cache, no GIL), once.

    numba is imported here rather than with the module (a second of start-up that every
    command importing the scoring package would pay); the dispatchers replace the plain
    functions in this module's namespace, where numba resolves the callees when it loads
    or compiles the caller.
    """
    global _compiled
    with _COMPILE_LOCK:
        if _compiled:
            return
        import numba

        namespace = globals()
        for name in _JITTED:
            namespace[name] = numba.njit(cache=True, nogil=True)(namespace[name])
        _compiled = True


_CAP = 50.0
_SPIKE = 0.01
_PER_UNIT = 100.0
_BUFFER = 2.0
_LEFT = 400
_BLOCK = 10  # left edges per block whose windows are evaluated together
_SPAN = 50  # left edges per coarse block, bounded before its blocks are
_COARSE = _LEFT // _SPAN
_FINE = _SPAN // _BLOCK


def available() -> bool:
    """True when the compiled kernel can run here (numba is installed)."""
    return importlib.util.find_spec("numba") is not None


def warm_up() -> None:
    """Import numba and load the kernel from its disk cache (compiling it the first time),
    so that the first scoring call does not pay for it."""
    table = np.zeros((3 + 1) ** 2)
    table.setflags(write=False)  # as the cached table is: numba types read-only apart
    kernel_epsilons(np.zeros((1, 3)), np.zeros((1, 3)), table)


@_jit
def _count_below(values: np.ndarray, edge: float, pointer: int) -> int:
    """Number of sorted `values` strictly below `edge`, walking from `pointer` (any edge)."""
    size = values.size
    while pointer < size and values[pointer] < edge:
        pointer += 1
    while pointer > 0 and values[pointer - 1] >= edge:
        pointer -= 1
    return pointer


@_jit
def _count_at_or_below(values: np.ndarray, edge: float, pointer: int) -> int:
    """Number of sorted `values` at or below `edge`, walking from `pointer`."""
    size = values.size
    while pointer < size and values[pointer] <= edge:
        pointer += 1
    while pointer > 0 and values[pointer - 1] > edge:
        pointer -= 1
    return pointer


@_jit
def _envelope(table: np.ndarray, positives: int, negatives: int, n: int) -> float:
    """Largest epsilon over counts a' <= positives, b' >= negatives (see ``_EpsilonLookup``)."""
    if positives >= n and negatives <= 0:
        return np.inf
    a = positives if positives < n - 1 else n - 1
    b = negatives if negatives > 1 else 1
    return float(table[a * (n + 1) + b])


@_jit
def _edge(start: float, stop: float, step: float, column: int) -> float:
    """Left edge `column` of a window whose edges run from start to stop (``_left_edge``)."""
    return stop if column == _LEFT - 1 else float(column) * step + start


@_jit
def _bound(
    table: np.ndarray,
    pos_r: int,
    neg_r: int,
    peaky_below: np.ndarray,
    below_first: int,
    below_last: int,
    n: int,
) -> float:
    """Upper bound of epsilon over windows whose left edge lies between two edges.

    The widest window holds at most pos_r minus the peaky values below the first edge; the
    narrowest at least neg_r minus the other side's values below the last edge.
    """
    most_pos = pos_r - peaky_below[below_first]
    fewest_neg = neg_r - (below_last - peaky_below[below_last])
    return float(_envelope(table, max(most_pos, 0), max(fewest_neg, 0), n))


@_jit
def _left_edge(right: float, width: float, column: int) -> float:
    """Left edge `column` of the window ending at `right`, as ``neurips2023._left_edge``."""
    start = (right - width) - _BUFFER
    stop = (right - width) + _BUFFER
    if column == _LEFT - 1:
        return stop
    step = (stop - start) / (_LEFT - 1)
    return float(column) * step + start


@_jit
def _example(positive: np.ndarray, negative: np.ndarray, table: np.ndarray) -> float:
    n = positive.size
    pos_range = positive.max() - positive.min()
    neg_range = negative.max() - negative.min()
    largest = pos_range if pos_range > neg_range else neg_range
    smallest = neg_range if pos_range > neg_range else pos_range
    if largest > 0 and smallest / largest < _SPIKE:
        return _CAP

    pooled = np.concatenate((positive, negative))
    order = np.argsort(pooled, kind="mergesort")
    values = pooled[order]
    size = values.size
    heavy = n + 1
    peaky_is_positive = pos_range < neg_range
    # Running weighted counts below each sorted position, for family A (positive side
    # heavy) and family B (the peaky side heavy).
    codes_a = np.zeros(size + 1, dtype=np.int64)
    codes_b = np.zeros(size + 1, dtype=np.int64)
    peaky_b = np.zeros(size + 1, dtype=np.int64)  # values of the peaky side below
    for i in range(size):
        from_positive = order[i] < n
        from_peaky = from_positive == peaky_is_positive
        codes_a[i + 1] = codes_a[i] + (heavy if from_positive else 1)
        codes_b[i + 1] = codes_b[i] + (heavy if from_peaky else 1)
        peaky_b[i + 1] = peaky_b[i] + (1 if from_peaky else 0)

    best = -np.inf
    # Family A: conf >= t on the float32 torch.linspace thresholds.
    lowest, highest = values[0], values[size - 1]
    count = int(np.ceil((highest - lowest) * _PER_UNIT))
    if count > 0:
        first = np.float32(lowest)
        last = np.float32(highest)
        step = 0.0
        if count > 1:
            step = np.float64((last - first) / np.float32(count - 1))
        half = count // 2
        total = codes_a[size]
        pointer = 0
        for i in range(count):
            if count == 1:
                threshold = np.float64(first)
            elif i < half:
                threshold = np.float64(np.float32(np.float64(first) + step * i))
            else:
                threshold = np.float64(np.float32(np.float64(last) - step * (count - 1 - i)))
            pointer = _count_below(values, threshold, pointer)
            value = table[total - codes_a[pointer]]
            if value > best:
                best = value

    # Family B: l <= conf <= r, the side with the smaller range positive.
    if peaky_is_positive:
        peaky_min, peaky_max = positive.min(), positive.max()
    else:
        peaky_min, peaky_max = negative.min(), negative.max()
    width = smallest
    low_edge = (peaky_min + width) - _BUFFER
    high_edge = peaky_max + _BUFFER
    n_right = int(np.ceil((high_edge - low_edge) * _PER_UNIT))
    if n_right > 0:
        right = np.empty(n_right)
        if n_right == 1:
            right[0] = low_edge
        else:
            right_step = (high_edge - low_edge) / (n_right - 1)
            for k in range(n_right):
                right[k] = float(k) * right_step + low_edge
            right[n_right - 1] = high_edge
        # Best first: rows by decreasing bound (a row's widest window holds the most
        # positives, its narrowest the fewest negatives), and in each row its blocks of 10
        # left edges by decreasing bound; stop where no bound beats the best value found.
        # The order changes the time only, never the maximum.
        to_right = np.empty(n_right, dtype=np.int64)
        starts = np.empty(n_right)
        below_start = np.empty(n_right, dtype=np.int64)
        row_bounds = np.empty(n_right)
        pointer_r = 0
        pointer_l = 0
        for k in range(n_right):
            pointer_r = _count_at_or_below(values, right[k], pointer_r)
            to_right[k] = codes_b[pointer_r]
            starts[k] = (right[k] - width) - _BUFFER
            pointer_l = _count_below(values, starts[k], pointer_l)
            below_start[k] = pointer_l
            last = _count_below(values, (right[k] - width) + _BUFFER, pointer_l)
            most_pos = peaky_b[pointer_r] - peaky_b[pointer_l]
            fewest_neg = (pointer_r - peaky_b[pointer_r]) - (last - peaky_b[last])
            row_bounds[k] = _envelope(table, max(most_pos, 0), max(fewest_neg, 0), n)
        coarse_bounds = np.empty(_COARSE)
        coarse_below = np.empty(_COARSE, dtype=np.int64)  # values below its first edge
        fine_bounds = np.empty(_FINE)
        for k in np.argsort(-row_bounds, kind="mergesort"):
            if row_bounds[k] <= best:
                break
            start = starts[k]
            stop = (right[k] - width) + _BUFFER
            step = (stop - start) / (_LEFT - 1)
            pos_r, neg_r = to_right[k] // heavy, to_right[k] % heavy
            pointer = below_start[k]
            for c in range(_COARSE):
                pointer = _count_below(values, _edge(start, stop, step, c * _SPAN), pointer)
                coarse_below[c] = pointer
                last = _count_below(
                    values, _edge(start, stop, step, c * _SPAN + _SPAN - 1), pointer
                )
                coarse_bounds[c] = _bound(table, pos_r, neg_r, peaky_b, pointer, last, n)
            for _ in range(_COARSE):
                c = int(np.argmax(coarse_bounds))
                if coarse_bounds[c] <= best:
                    break
                coarse_bounds[c] = -np.inf
                pointer = coarse_below[c]
                for f in range(_FINE):
                    first_m = c * _SPAN + f * _BLOCK
                    pointer = _count_below(values, _edge(start, stop, step, first_m), pointer)
                    last = _count_below(
                        values, _edge(start, stop, step, first_m + _BLOCK - 1), pointer
                    )
                    fine_bounds[f] = _bound(table, pos_r, neg_r, peaky_b, pointer, last, n)
                for _ in range(_FINE):
                    f = int(np.argmax(fine_bounds))
                    if fine_bounds[f] <= best:
                        break
                    fine_bounds[f] = -np.inf
                    best = _evaluate_block(
                        values,
                        codes_b,
                        right,
                        to_right,
                        width,
                        table,
                        k,
                        c * _SPAN + f * _BLOCK,
                        best,
                    )

    if best == -np.inf:
        return 0.0
    return best if best < _CAP else _CAP


@_jit
def _evaluate_block(
    values: np.ndarray,
    codes_b: np.ndarray,
    right: np.ndarray,
    to_right: np.ndarray,
    width: float,
    table: np.ndarray,
    k: int,
    first_m: int,
    best: float,
) -> float:
    """Best epsilon over the _BLOCK windows of row k from left edge first_m on."""
    pointer = int(np.searchsorted(values, _left_edge(right[k], width, first_m)))
    for m in range(first_m, first_m + _BLOCK):
        pointer = _count_below(values, _left_edge(right[k], width, m), pointer)
        inside = to_right[k] - codes_b[pointer]
        value = table[inside if inside > 0 else 0]
        if value > best:
            best = value
    return best


@_jit
def _all_examples(positive: np.ndarray, negative: np.ndarray, table: np.ndarray) -> np.ndarray:
    out = np.empty(positive.shape[0])
    for i in range(positive.shape[0]):
        out[i] = _example(positive[i], negative[i], table)
    return out


def kernel_epsilons(
    positive_t: np.ndarray, negative_t: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """Per-example epsilon, float64 [S], from the two sides as contiguous [S, N] rows.

    `positive_t` holds, per example, the side with the larger median; `table` is
    ``neurips2023_epsilon_table(N)``.
    """
    if not available():
        raise RuntimeError("kernel_epsilons() needs numba; check available() first")
    _compile()
    result: np.ndarray = _all_examples(
        np.ascontiguousarray(positive_t, dtype=np.float64),
        np.ascontiguousarray(negative_t, dtype=np.float64),
        np.ascontiguousarray(table),
    )
    return result
