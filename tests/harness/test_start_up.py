"""What `unlearn` and the dry-run load at start-up: heavy packages only where they are used.

Each import is checked in a fresh interpreter (this test process has imported everything).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "scipy", "numba", "sklearn", "matplotlib", "httpx")


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import unlearn.cli", set()),  # `unlearn --help`, `unlearn login`: none of them
        ("import harness.pipeline", {"torch"}),  # the dry-run's core: torch, and no more yet
        ("import harness.scoring", set()),  # `unlearn score`: numpy only until scoring
    ],
)
def test_start_up_loads_heavy_packages_only_when_used(statement: str, allowed: set[str]) -> None:
    loaded = _loaded_after(statement)
    assert {name for name in HEAVY if name in loaded} == allowed


def test_start_up_probe_sees_a_heavy_import_when_there_is_one() -> None:
    # The control: the probe does report a package a statement loads.
    assert "scipy" in _loaded_after("import scipy.special")
