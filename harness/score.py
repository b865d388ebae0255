"""Scoring: unlearned vs retrained confidences -> forget quality F -> final score +- CI.

The last step of the data flow (``logits.py`` -> ``confidence.py`` -> here). Pure numpy:
no torch, no I/O, inputs never modified. The implementation lives in ``harness.scoring``;
this module is the stable import path for the worker, the API and the CLI:

    from harness.score import ESTIMATORS, forget_quality, score_submission

Estimators: ``neurips2023`` (the competition's rule, exact) and ``calibrated`` (held-out
audit with binomial confidence bounds, the default). See docs/scoring.md.
"""

from harness.confidence import logit_scaled_confidence
from harness.scoring import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    Estimator,
    ForgetResult,
    ScoreReport,
    bucket_points,
    forget_quality,
    forget_quality_interval,
    get_estimator,
    noise_floor,
    score_submission,
    statistically_tied,
)

__all__ = [
    "DEFAULT_ESTIMATOR",
    "ESTIMATORS",
    "Estimator",
    "ForgetResult",
    "ScoreReport",
    "bucket_points",
    "forget_quality",
    "forget_quality_interval",
    "get_estimator",
    "logit_scaled_confidence",
    "noise_floor",
    "score_submission",
    "statistically_tied",
]
