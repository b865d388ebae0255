"""The synthetic probe of an estimator's resolution: F and its interval against a small shift.

Run:  PYTHONPATH=. python bench/scoring_probe.py [--models 64] [--examples 100] [--json]

Per forget example, retrained confidences ~ Normal(c, s) and unlearned ~ Normal(c + d s, s),
c and s drawn per example (as in bench/scoring_curves.py), N models per side. One set of
draws serves every shift d (common random numbers), so F against d shows the estimator's
response to the shift alone, not to fresh noise. For each registered estimator and d it
prints F and its bootstrap interval (models and examples resampled, 95%,
``harness.scoring.forget_quality_interval``).

What a phase wants from an estimator here: near 1 for a perfect unlearner (d = 0), clearly
lower at d = 0.5, and falling with d. tests/harness/test_score_probe.py holds ``pooled`` to
F(0) >= 0.9, F(0.5) <= 0.8 and a non-increasing F; the figures are in docs/scoring.md
("Resolution at the top"), measured on a 2-core x86_64 CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from harness.scoring import ESTIMATORS, forget_quality, forget_quality_interval  # noqa: E402

SHIFTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class ProbePoint:
    estimator: str
    shift: float  # in standard deviations of each example's spread
    forget_quality: float
    interval: tuple[float, float]


def probe_draws(
    seed: int, n_models: int, n_examples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Retrained [N, S], the unlearned side at d = 0 [N, S], and the spread s per example [S]."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 3, size=n_examples)
    spread = rng.uniform(0.5, 2.0, size=n_examples)
    retrained = centre + spread * rng.normal(size=(n_models, n_examples))
    unlearned = centre + spread * rng.normal(size=(n_models, n_examples))
    return retrained, unlearned, spread


def probe(
    estimator: str,
    shifts: tuple[float, ...] = SHIFTS,
    *,
    n_models: int = 64,
    n_examples: int = 100,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> list[ProbePoint]:
    """F and its 95% bootstrap interval for each shift, one set of draws for all."""
    retrained, unlearned, spread = probe_draws(seed, n_models, n_examples)
    points = []
    for shift in shifts:
        shifted = unlearned + shift * spread
        value = forget_quality(shifted, retrained, estimator=estimator, seed=seed).forget_quality
        interval = forget_quality_interval(
            shifted, retrained, estimator=estimator, n_bootstrap=n_bootstrap, seed=seed
        )
        points.append(ProbePoint(estimator, shift, value, interval))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1, help="repeat over seeds 0..k-1")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [
        point
        for seed in range(args.seeds)
        for name in sorted(ESTIMATORS)
        for point in probe(
            name,
            n_models=args.models,
            n_examples=args.examples,
            n_bootstrap=args.bootstrap,
            seed=seed,
        )
    ]
    if args.json:
        print(json.dumps([asdict(point) for point in results]))
        return
    print(f"N = {args.models} per side, S = {args.examples}, {args.bootstrap} bootstrap replicates")
    print(f"{'estimator':>12s} {'shift (sd)':>10s} {'F':>7s}   95% interval")
    for point in results:
        low, high = point.interval
        print(
            f"{point.estimator:>12s} {point.shift:10.2f} {point.forget_quality:7.3f}"
            f"   [{low:.3f}, {high:.3f}]"
        )


if __name__ == "__main__":
    main()
