"""Loads the golden cases of the NeurIPS 2023 scorer from the repository's test fixtures.

The file lives in ``tests/fixtures/`` (its README says how the cases were produced), so
that a fresh clone runs these tests with nothing beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"
GOLDEN_FILE = FIXTURES_DIR / "neurips2023_forget_score_golden.npz"
GOLDEN_CASES = ("mixed_n64", "same_n128", "heavy_n256", "mixed_n512")


def load_golden() -> dict[str, np.ndarray]:
    """Every array of the golden file, by key; fails loudly when the file is missing."""
    if not GOLDEN_FILE.is_file():
        raise FileNotFoundError(
            f"golden fixtures not found at {GOLDEN_FILE}; restore tests/fixtures/ from git"
        )
    with np.load(GOLDEN_FILE) as archive:
        return {key: archive[key] for key in archive.files}
