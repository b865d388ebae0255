"""Evaluation reports for tests, built through the report's own constructor.

`scored_report(0.6)` is what the worker would store for a score of 0.6: a `ScoreReport` with
that score and interval, the gate's `Efficiency` from run times (`harness.runs.execute.
efficiency_gate`, its one implementation), through `EvaluationReport.assemble`, the
constructor `harness.report.build.build_report` uses. So a test that reads a report reads
the shape the producer writes, never a hand-written dict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.report.schema import EvaluationReport, Racing, RoundRow
from harness.runs.execute import efficiency_gate
from harness.scoring import ScoreReport

__all__ = ["racing", "scored_report"]


def scored_report(
    score: float,
    *,
    half_width: float = 0.02,
    estimator: str = "neurips2023",
    forget_quality: float | None = None,
    noise_floor: float | None = 0.2,
    n_models: int = 8,
    replicas: int | None = None,
    accuracies: tuple[float, float, float, float] = (0.9, 0.9, 0.8, 0.8),
    run_seconds: float = 0.1,
    retrain_seconds: float = 1.0,
    max_fraction: float = 0.2,
    mia: dict[str, Any] | None = None,
    secondary: dict[str, Any] | None = None,
) -> EvaluationReport:
    """A scored report: `accuracies` are the mean (unlearned retain, retrained retain,
    unlearned test, retrained test); every run takes `run_seconds`."""
    interval = (score - half_width, score + half_width)
    u_retain, r_retain, u_test, r_test = accuracies
    result = ScoreReport(
        estimator=estimator,
        forget_quality=score if forget_quality is None else forget_quality,
        final_score=score,
        epsilons=np.asarray([0.5, 1.0]),
        points=np.asarray([1.0, 0.5]),
        noise_floor=noise_floor,
        forget_quality_ci=interval,
        final_score_ci=interval,
        n_models=n_models,
        n_examples=2,
        unlearned_retain_acc=u_retain,
        retrained_retain_acc=r_retain,
        unlearned_test_acc=u_test,
        retrained_test_acc=r_test,
        n_bootstrap=100,
        confidence=0.95,
        seed=0,
    )
    gate = efficiency_gate(
        [run_seconds] * n_models, retrain_seconds=retrain_seconds, max_run_fraction=max_fraction
    )
    return EvaluationReport.assemble(
        result,
        efficiency=gate,
        replicas=n_models if replicas is None else replicas,
        mia=mia,
        secondary=secondary,
    )


def racing(*, n: int, n_total: int, reason: str = "out of the top k") -> Racing:
    """A race stopped (or finished) at n of n_total runs, one round per doubling."""
    rounds = [k for k in (2**i for i in range(1, 12)) if k <= n]
    return Racing(
        n=n,
        n_total=n_total,
        provisional=n < n_total,
        reason=reason,
        profile=[RoundRow(n=k, score=0.5, low=0.4, high=0.6) for k in rounds],
    )
