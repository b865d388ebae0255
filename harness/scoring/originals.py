"""The spread of a score between original models (a phase with `originals: K`, K > 1).

    per_original(seeds=..., originals=K, unlearned_confs=..., ...) -> dict | None

With K originals, run i unlearned from original i mod K (`harness.reference.originals`), and
the pooled score compares all N runs with the N retrained models as before. Beside it this
module scores each original's runs alone: the n_k runs of original k against the first n_k
retrained models (equal numbers a side, as every estimator needs; the same cut as a racing
round), final score and F, no bootstrap. Those scores stand on n_k = N / K models a side,
so their level is that of the estimator at n_k (the competition rule's F rises as N falls,
see docs/scoring.md), not the pooled score's; what they show is how much the result depends
on which original a method was given: their range and standard deviation. An original with
fewer runs than the estimator needs gets None.

Pure numpy; inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.scoring.estimators import get_estimator
from harness.scoring.submission import score_submission

__all__ = ["per_original"]


def per_original(
    *,
    seeds: Sequence[int] | np.ndarray,
    originals: int,
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    unlearned_retain_acc: np.ndarray,
    retrained_retain_acc: np.ndarray,
    unlearned_test_acc: np.ndarray,
    retrained_test_acc: np.ndarray,
    estimator: str,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Each original's score, and their range and sd; None under the 2023 rule (K = 1).

    Args:
        seeds: [N] the run seed of each unlearned row (run i started from original i mod K).
        unlearned_confs, retrained_confs: [N, S]; the accuracies [N] per side.
    """
    if originals <= 1:
        return None
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.shape != (np.shape(unlearned_confs)[0],):
        raise ValueError(
            f"need one seed per unlearned model; got {seeds.shape} seeds for "
            f"{np.shape(unlearned_confs)} confidences"
        )
    chosen = get_estimator(estimator)
    minimum = chosen.min_models
    rows: list[dict[str, Any]] = []
    for index in range(originals):
        mine = np.flatnonzero(seeds % originals == index)
        n = int(mine.size)
        if n < minimum or n > np.shape(retrained_confs)[0]:
            rows.append({"original": index, "runs": n, "final_score": None, "forget_quality": None})
            continue
        # The final score's own rule (F x retain ratio x test ratio), on this original's runs
        # against as many retrained models; no intervals, no noise floor (0: not computed).
        result = score_submission(
            unlearned_confs=np.asarray(unlearned_confs)[mine],
            retrained_confs=np.asarray(retrained_confs)[:n],
            unlearned_retain_acc=np.asarray(unlearned_retain_acc)[mine],
            retrained_retain_acc=np.asarray(retrained_retain_acc)[:n],
            unlearned_test_acc=np.asarray(unlearned_test_acc)[mine],
            retrained_test_acc=np.asarray(retrained_test_acc)[:n],
            estimator=estimator,
            n_bootstrap=0,
            noise_floor=0.0,
            seed=seed,
        )
        rows.append(
            {
                "original": index,
                "runs": n,
                "final_score": float(result.final_score),
                "forget_quality": float(result.forget_quality),
            }
        )
    scores = [row["final_score"] for row in rows if row["final_score"] is not None]
    return {
        "count": originals,
        "scores": rows,
        "range": [min(scores), max(scores)] if scores else None,
        "sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
        "reading": (
            "each original's runs against as many retrained models (n = N / K a side, the "
            "estimator's scale at n): the spread shows how much the score depends on the "
            "original"
            if scores
            else f"each original has fewer runs than {estimator!r} needs ({minimum})"
        ),
    }
