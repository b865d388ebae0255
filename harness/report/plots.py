"""PNG plots of one evaluation, for a person to look at (matplotlib, Agg backend).

    write_plots(out_dir, epsilons=..., unlearned=..., retrained=...) -> [paths]

- epsilons.png: histogram of per-example epsilon, the examples at the cap of 50 (the spike
  guard) as their own bar;
- worst_examples.png: retrained vs unlearned confidence distributions of the examples
  with the largest epsilon;
- accuracies.png: retain / forget / test accuracy per model, both sides.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness.evaluate import Evaluation  # noqa: E402

__all__ = ["write_plots"]

UNLEARNED, RETRAINED = "tab:orange", "tab:blue"
EPSILON_CAP = 50.0  # the estimators' clip (harness.scoring)
DPI = 120  # about 840-1200 px wide: readable at the page's half width and on a phone
plt.rcParams.update({"font.size": 11, "axes.titlesize": 12})


def _epsilon_histogram(epsilons: np.ndarray, path: Path) -> None:
    # Capped examples (epsilon = 50, the spike guard) get their own bar right of a gap, so
    # that they neither stretch the axis to 50 nor vanish from a 0-2 axis.
    fig, ax = plt.subplots(figsize=(7, 4), dpi=DPI)
    capped = epsilons >= EPSILON_CAP
    finite = epsilons[~capped]
    right = float(finite.max()) if finite.size else 1.0
    right = right if right > 0 else 1.0
    counts, edges = np.histogram(finite, bins=30, range=(0.0, right))
    widths = np.diff(edges)
    ax.bar(edges[:-1], counts, width=widths, align="edge", color=UNLEARNED, label="epsilon")
    cap_x = right * 1.12
    ax.bar(
        [cap_x],
        [int(capped.sum())],
        width=max(widths[0] * 2, right * 0.05),
        color="tab:red",
        label=f"{int(capped.sum())} at the cap ({EPSILON_CAP:g})",
    )
    ticks = [t for t in ax.get_xticks() if 0 <= t <= right]
    ax.set_xticks([*ticks, cap_x], [f"{t:g}" for t in ticks] + [f"cap\n{EPSILON_CAP:g}"])
    ax.set_xlim(-right * 0.02, cap_x + right * 0.08)
    ax.set_xlabel("per-example epsilon (lower is better)")
    ax.set_ylabel("forget examples")
    ax.set_title(f"Per-example epsilon, {len(epsilons)} forget examples")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _worst_examples(
    epsilons: np.ndarray, unlearned: np.ndarray, retrained: np.ndarray, path: Path, count: int = 6
) -> None:
    worst = np.argsort(-epsilons, kind="stable")[:count]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.5), dpi=DPI)
    for ax, example in zip(axes.ravel(), worst, strict=False):
        both = np.r_[unlearned[:, example], retrained[:, example]]
        low, high = float(both.min()), float(both.max())
        bins = np.linspace(low, high if high > low else low + 1.0, 25)
        ax.hist(retrained[:, example], bins=bins, color=RETRAINED, alpha=0.6, label="retrained")
        ax.hist(unlearned[:, example], bins=bins, color=UNLEARNED, alpha=0.6, label="unlearned")
        ax.set_title(f"example {example}: eps {epsilons[example]:.2f}", fontsize=9)
        ax.tick_params(labelsize=9)
    for ax in axes.ravel()[len(worst) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8, frameon=False)
    fig.supxlabel("logit-scaled confidence of the true label")
    fig.suptitle("Forget examples with the largest epsilon")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _accuracies(unlearned: Evaluation, retrained: Evaluation, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=DPI)
    parts = ("retain_acc", "forget_acc", "test_acc")
    positions = np.arange(len(parts)) * 3.0
    for offset, (evaluation, colour, label) in enumerate(
        ((retrained, RETRAINED, "retrained"), (unlearned, UNLEARNED, "unlearned"))
    ):
        values = [getattr(evaluation, part) for part in parts]
        box = ax.boxplot(
            values,
            positions=positions + offset,
            widths=0.8,
            patch_artist=True,
            tick_labels=["", "", ""],
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colour)
        ax.plot([], [], color=colour, linewidth=8, label=label)
    ax.set_xticks(positions + 0.5, ["retain", "forget", "test"])
    ax.set_ylabel("accuracy per model")
    ax.set_title("Accuracy: unlearned vs retrained models")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plots(
    out_dir: Path, *, epsilons: np.ndarray, unlearned: Evaluation, retrained: Evaluation
) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "epsilons.png", out_dir / "worst_examples.png", out_dir / "accuracies.png"]
    epsilons = np.asarray(epsilons, dtype=np.float64)
    _epsilon_histogram(epsilons, paths[0])
    _worst_examples(epsilons, unlearned.forget_confs, retrained.forget_confs, paths[1])
    _accuracies(unlearned, retrained, paths[2])
    return paths
