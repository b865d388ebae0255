"""The metric lab's table as a figure (matplotlib, Agg backend).

    write_lab_plot(result, path) -> path

One group of three horizontal bars per metric: faithfulness (originals vs held-out retrained
models, as trained), then the same AUC after relearning and after 8-bit quantisation; a
dashed line at 0.5, chance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["write_lab_plot"]

BARS = (
    ("faithfulness", "faithfulness (as trained)", "tab:blue"),
    ("relearn", "after relearning", "tab:orange"),
    ("quantize", "after 8-bit quantisation", "tab:green"),
)


def write_lab_plot(result: dict[str, Any], path: Path) -> Path:
    """Write the figure of `metric_lab`'s result to `path` (PNG)."""
    rows = result["table"]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.6), dpi=120)
    positions = np.arange(len(rows))[::-1]
    height = 0.26
    for offset, (key, label, colour) in enumerate(BARS):
        values = [np.nan_to_num(row[key], nan=0.0) for row in rows]
        ax.barh(positions + (1 - offset) * height, values, height=height, color=colour, label=label)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(positions, [row["label"] for row in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("AUC: originals look worse than held-out retrained models (1 = always)")
    phase = result["phase"]
    ax.set_title(
        f"{phase['dataset']['kind']}, {result['ensemble']} models a side, "
        f"{result['trials']} trials, relearning {result['relearn_steps']} steps"
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
