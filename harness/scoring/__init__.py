"""Scoring package: estimators of forget quality, the final score and its uncertainty.

The last stage of the data flow. Pure numpy: no torch, no I/O, inputs never modified.
Read in data-flow order: ``confidence`` (logits -> the statistic compared),
``points`` (epsilon -> points -> F, input checks), ``neurips2023``, ``calibrated`` and
``pooled`` (per-example epsilons), ``estimators`` (the registry), ``submission`` (final score, noise
floor, bootstrap), ``racing`` (rounds of seeds: stop a submission once it cannot reach the
top k), ``mia`` (secondary membership-inference attacks, reported beside the score and
never mixed into it). Import the public names from this package.
"""

from harness.scoring.calibrated import CalibratedConfig, calibrated_epsilons
from harness.scoring.confidence import logit_scaled_confidence
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
from harness.scoring.pooled import pooled_epsilons
from harness.scoring.submission import (
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
    "logit_scaled_confidence",
    "n_buckets",
    "neurips2023_epsilons",
    "noise_floor",
    "pooled_epsilons",
    "score_submission",
    "statistically_tied",
]
