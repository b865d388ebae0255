"""Synthetic behaviour of the estimators: F against the gap between the two distributions.

Run:  PYTHONPATH=. python bench/scoring_curves.py [--examples S] [--out docs/scoring_curves.png]

Per forget example, retrained confidences ~ Normal(c, s) and unlearned ~ Normal(c + d s, s)
with random c, s per example; d (the shift in standard deviations) runs from 0 (a perfect
unlearner) to 6, then two extremes: separable (d = 50) and deterministic (every run gives
the same value, inside the retrained range). Prints one table row per case and N and saves
a two-panel figure: F against d at N = 512, and F of a perfect unlearner against N.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from harness.scoring import ESTIMATORS, forget_quality  # noqa: E402

SHIFTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
SIZES = (64, 128, 256, 512)


def pair(rng: np.random.Generator, n_models: int, n_examples: int, shift: float):
    centre = rng.normal(0, 3, size=n_examples)
    scale = rng.uniform(0.5, 2.0, size=n_examples)
    retrained = centre + scale * rng.normal(size=(n_models, n_examples))
    unlearned = centre + scale * (rng.normal(size=(n_models, n_examples)) + shift)
    return unlearned, retrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "scoring_curves.png")
    args = parser.parse_args()
    names = sorted(ESTIMATORS)

    by_shift: dict[str, list[float]] = {name: [] for name in names}
    print("N = 512, F by shift (in standard deviations)")
    print(f"{'shift':>14s} " + " ".join(f"{name:>12s}" for name in names))
    for index, shift in enumerate(SHIFTS):
        unlearned, retrained = pair(np.random.default_rng(index), 512, args.examples, shift)
        row = [
            forget_quality(unlearned, retrained, estimator=name).forget_quality for name in names
        ]
        for name, value in zip(names, row, strict=True):
            by_shift[name].append(value)
        print(f"{shift:14.2f} " + " ".join(f"{value:12.4f}" for value in row))
    rng = np.random.default_rng(99)
    _, retrained = pair(rng, 512, args.examples, 0.0)
    extremes = {
        "separable": retrained + 50 * retrained.std(axis=0),
        "deterministic": np.broadcast_to(np.median(retrained, axis=0) + 0.05, retrained.shape),
    }
    for label, unlearned in extremes.items():
        row = [
            forget_quality(unlearned, retrained, estimator=name).forget_quality for name in names
        ]
        print(f"{label:>14s} " + " ".join(f"{value:12.4f}" for value in row))

    by_size: dict[str, list[float]] = {name: [] for name in names}
    print("\nperfect unlearner (identical distributions), F by N")
    for n_models in SIZES:
        unlearned, retrained = pair(
            np.random.default_rng(1000 + n_models), n_models, args.examples, 0
        )
        row = [
            forget_quality(unlearned, retrained, estimator=name).forget_quality for name in names
        ]
        for name, value in zip(names, row, strict=True):
            by_size[name].append(value)
        print(f"{n_models:14d} " + " ".join(f"{value:12.4f}" for value in row))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name in names:
        left.plot(SHIFTS, by_shift[name], marker="o", label=name)
        right.plot(SIZES, by_size[name], marker="o", label=name)
    left.set(
        xlabel="shift of the unlearned distribution (standard deviations)",
        ylabel="forget quality F",
        title="F against the gap, N = 512",
        ylim=(-0.02, 1.02),
    )
    right.set(
        xlabel="models per side N",
        ylabel="F of a perfect unlearner",
        title="noise floor: identical distributions",
        xscale="log",
        ylim=(-0.02, 1.02),
    )
    right.set_xscale("log", base=2)
    right.minorticks_off()
    right.set_xticks(SIZES, [str(size) for size in SIZES])
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(loc="center right")
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
