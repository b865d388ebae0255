"""Loads the golden cases of the NeurIPS 2023 scorer from the shared fixtures directory.

CI checks the repository out with ``shared/`` beside the clone, so the fixtures live at
``<repo root>/../shared/fixtures`` (see that directory's README for how they were made).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures"
GOLDEN_FILE = FIXTURES_DIR / "neurips2023_forget_score_golden.npz"
GOLDEN_CASES = ("mixed_n64", "same_n128", "heavy_n256", "mixed_n512")


def load_golden() -> dict[str, np.ndarray]:
    """Every array of the golden file, by key; fails loudly when the file is missing."""
    if not GOLDEN_FILE.is_file():
        raise FileNotFoundError(
            f"golden fixtures not found at {GOLDEN_FILE}; check out shared/ beside the repository"
        )
    with np.load(GOLDEN_FILE) as archive:
        return {key: archive[key] for key in archive.files}
