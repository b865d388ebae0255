"""Per-example epsilons -> points -> forget quality F, and input checks shared by estimators.

The NeurIPS 2023 rule turns each forget example's epsilon into points with buckets of width
0.5 starting at 0, as many as fit below ``ceil(ln(N - 1))`` for N models per side: the bucket
that holds epsilon pays 1, 1/2, 1/4, ...; an epsilon beyond the last bucket (in practice the
cap of 50) pays 0. F is the mean of the points over the forget set. Every estimator in this
package reuses the same buckets, so that F values read on one scale.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "BUCKET_WIDTH",
    "MIN_MODELS",
    "bucket_points",
    "check_confidence_pair",
    "forget_quality_from_points",
    "n_buckets",
]

BUCKET_WIDTH = 0.5
MIN_MODELS = 4  # below this no estimator has a single informative bucket


def n_buckets(n_models: int) -> int:
    """Number of 0.5-wide buckets for N models per side: 2 * ceil(ln(N - 1)) (14 at N = 512)."""
    if n_models < 3:
        return 0
    return int(2 * math.ceil(math.log(n_models - 1)))


def bucket_points(epsilons: np.ndarray, n_models: int) -> np.ndarray:
    """Points per example, float64 [S]: 2**-floor(eps / 0.5) inside the buckets, else 0."""
    epsilons = np.asarray(epsilons, dtype=np.float64)
    # floor(2 * eps) is the index of the first bucket whose upper edge exceeds eps; the
    # scaling by 2 is exact in binary, so the edges match the organisers' running sums.
    index = np.floor(epsilons / BUCKET_WIDTH)
    inside = index < n_buckets(n_models)
    return np.where(inside, np.exp2(-np.where(inside, index, 0.0)), 0.0)


def forget_quality_from_points(points: np.ndarray) -> float:
    """F: the mean points over the forget set (0 for an empty set is refused upstream)."""
    return float(np.mean(points))


def check_confidence_pair(
    unlearned: np.ndarray, retrained: np.ndarray, *, min_models: int = MIN_MODELS
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two [n_models, n_examples] confidence matrices; return float64 views/copies.

    Raises:
        ValueError: naming the shapes received when they are not 2-D, differ, hold fewer
            than ``min_models`` models or no example, or contain NaN / infinity.
    """
    unlearned = np.asarray(unlearned, dtype=np.float64)
    retrained = np.asarray(retrained, dtype=np.float64)
    for name, matrix in (("unlearned", unlearned), ("retrained", retrained)):
        if matrix.ndim != 2:
            raise ValueError(
                f"{name} confidences must be a 2-D [n_models, n_examples] array; "
                f"got shape {matrix.shape}"
            )
    if unlearned.shape != retrained.shape:
        raise ValueError(
            "unlearned and retrained confidences must have the same shape "
            f"[n_models, n_examples]; got {unlearned.shape} and {retrained.shape}"
        )
    n_models, n_examples = unlearned.shape
    if n_models < min_models:
        raise ValueError(
            f"need at least {min_models} models per side; got {n_models} "
            f"(shape {unlearned.shape}; rows are models, columns forget examples)"
        )
    if n_examples < 1:
        raise ValueError(f"need at least one forget example; got shape {unlearned.shape}")
    for name, matrix in (("unlearned", unlearned), ("retrained", retrained)):
        if not np.isfinite(matrix).all():
            bad = int(np.size(matrix) - np.isfinite(matrix).sum())
            raise ValueError(f"{name} confidences contain {bad} NaN or infinite values")
    return unlearned, retrained
