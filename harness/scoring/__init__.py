"""Scoring package: estimators of forget quality, the final score and its uncertainty.

Read in data-flow order: ``points`` (epsilon -> points -> F, input checks),
``neurips2023`` and ``calibrated`` (per-example epsilons), ``estimators`` (the registry),
``report`` (final score, noise floor, bootstrap). ``harness.score`` re-exports the public
names; import from there.
"""

from harness.scoring.calibrated import CalibratedConfig, calibrated_epsilons
from harness.scoring.estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    Estimator,
    ForgetResult,
    forget_quality,
    get_estimator,
)
from harness.scoring.neurips2023 import neurips2023_epsilons
from harness.scoring.points import bucket_points, check_confidence_pair, n_buckets
from harness.scoring.report import (
    ScoreReport,
    forget_quality_interval,
    noise_floor,
    score_submission,
    statistically_tied,
)

__all__ = [
    "DEFAULT_ESTIMATOR",
    "ESTIMATORS",
    "CalibratedConfig",
    "Estimator",
    "ForgetResult",
    "ScoreReport",
    "bucket_points",
    "calibrated_epsilons",
    "check_confidence_pair",
    "forget_quality",
    "forget_quality_interval",
    "get_estimator",
    "n_buckets",
    "neurips2023_epsilons",
    "noise_floor",
    "score_submission",
    "statistically_tied",
]
