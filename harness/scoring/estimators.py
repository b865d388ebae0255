"""The estimator registry and ``forget_quality``: confidences in, epsilons + points + F out.

Every estimator takes the same two [N models, S forget examples] confidence matrices (see
``harness.scoring.confidence``) and a seed, and returns a ``ForgetResult``. The API and the worker
pick one by name from ``ESTIMATORS``; tests loop over the registry to check the invariants
that all of them share.

    ESTIMATORS["neurips2023"]  the competition's rule, reproduced exactly (deterministic; the
                               default: of phases, `unlearn score`, `forget_quality`)
    ESTIMATORS["calibrated"]   held-out audit with binomial confidence bounds
    ESTIMATORS["pooled"]       Gaussian divergences pooled over the forget set: resolves
                               small shifts that the audit's bounds cannot (deterministic)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.scoring import neurips2023_kernel
from harness.scoring.calibrated import calibrated_epsilons
from harness.scoring.neurips2023 import neurips2023_epsilons
from harness.scoring.points import (
    MIN_MODELS,
    bucket_points,
    check_confidence_pair,
    forget_quality_from_points,
)
from harness.scoring.pooled import pooled_epsilons

__all__ = [
    "DEFAULT_ESTIMATOR",
    "ESTIMATORS",
    "Estimator",
    "ForgetResult",
    "forget_quality",
    "get_estimator",
]

DEFAULT_ESTIMATOR = "neurips2023"

EpsilonFunction = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class ForgetResult:
    """Per-example epsilons and points, and their mean F, of one estimator on one pair."""

    estimator: str
    epsilons: np.ndarray  # [S] float64, >= 0 (50 = the competition's cap)
    points: np.ndarray  # [S] float64 in {0} U {2**-k}
    forget_quality: float  # mean of points, in [0, 1]
    n_models: int
    n_examples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (lists of floats)."""
        return {
            "estimator": self.estimator,
            "forget_quality": self.forget_quality,
            "epsilons": [float(value) for value in self.epsilons],
            "points": [float(value) for value in self.points],
            "n_models": self.n_models,
            "n_examples": self.n_examples,
        }


@dataclass(frozen=True)
class Estimator:
    """One way of turning two confidence matrices into per-example epsilons, then F."""

    name: str
    summary: str
    compute_epsilons: EpsilonFunction  # trusts its inputs: validated [N, S] float64
    deterministic: bool  # False: the result depends on `seed`
    min_models: int = MIN_MODELS
    # True when compute_epsilons runs without the GIL (compiled), so that threads score
    # bootstrap replicates side by side with no worker processes to start.
    threads_parallel: bool = False

    def epsilons(
        self, unlearned: np.ndarray, retrained: np.ndarray, *, seed: int = 0
    ) -> np.ndarray:
        """Validated per-example epsilons, float64 [S]."""
        unlearned, retrained = check_confidence_pair(
            unlearned, retrained, min_models=self.min_models
        )
        return self.compute_epsilons(unlearned, retrained, seed)

    def __call__(
        self, unlearned: np.ndarray, retrained: np.ndarray, *, seed: int = 0
    ) -> ForgetResult:
        """Epsilons, points and F of `unlearned` vs `retrained`, both [N, S]."""
        epsilons = self.epsilons(unlearned, retrained, seed=seed)
        n_models, n_examples = np.shape(unlearned)
        points = bucket_points(epsilons, n_models)
        return ForgetResult(
            estimator=self.name,
            epsilons=epsilons,
            points=points,
            forget_quality=forget_quality_from_points(points),
            n_models=n_models,
            n_examples=n_examples,
        )


ESTIMATORS: dict[str, Estimator] = {
    "neurips2023": Estimator(
        name="neurips2023",
        summary="NeurIPS 2023 rule: max empirical epsilon over ~1e5 thresholds (exact)",
        compute_epsilons=lambda unlearned, retrained, seed: neurips2023_epsilons(
            unlearned, retrained
        ),
        deterministic=True,
        threads_parallel=neurips2023_kernel.available(),
    ),
    "calibrated": Estimator(
        name="calibrated",
        summary="held-out audit: Gaussian likelihood-ratio test, Clopper-Pearson bounds",
        compute_epsilons=lambda unlearned, retrained, seed: calibrated_epsilons(
            unlearned, retrained, seed=seed
        ),
        deterministic=False,
        min_models=8,  # halves of at least 4 models
    ),
    "pooled": Estimator(
        name="pooled",
        summary="Gaussian divergence per example, pooled over the forget set (empirical "
        "Bayes), read as the epsilon of a Gaussian shift",
        compute_epsilons=lambda unlearned, retrained, seed: pooled_epsilons(unlearned, retrained),
        deterministic=True,
        min_models=8,  # variances and kurtosis from at least 8 values a side
    ),
}


def get_estimator(name: str) -> Estimator:
    """The registered estimator called `name`; ValueError listing the choices otherwise."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown estimator {name!r}; choose one of {sorted(ESTIMATORS)}"
        ) from None


def forget_quality(
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    *,
    estimator: str = DEFAULT_ESTIMATOR,
    seed: int = 0,
) -> ForgetResult:
    """Forget quality F of unlearned vs retrained confidences, both [N models, S examples]."""
    return get_estimator(estimator)(unlearned_confs, retrained_confs, seed=seed)
