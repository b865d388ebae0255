"""The API process never loads torch: it validates phases through the light registries
(`harness.registry`) and the phase model, and leaves models, data and runs to the workers.

import-linter sees only static imports (`pyproject.toml`, "The API process never imports
torch"); this test imports `api.main` in a fresh interpreter and looks at what loaded,
which also catches a lazy import run at import time.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "torchvision")


def loaded_heavy(module: str) -> list[str]:
    """The torch modules that importing `module` in a fresh interpreter loads."""
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_api_app_loads_no_torch() -> None:
    assert loaded_heavy("harness.models") != []  # control: the check sees torch when it loads
    assert loaded_heavy("api.main") == []


def test_validating_a_phase_loads_no_torch() -> None:
    # A phase naming each registry's entries is checked by names alone.
    code = (
        "import json, sys\n"
        "from harness.phase_schema import check_server_secrecy, validate_phase\n"
        "phase = validate_phase({'dataset': {'kind': 'digits'}, 'model': 'resnet18-small', "
        "'interface': 'kaggle2023', 'estimator': 'calibrated', 'replicas': 8})\n"
        "check_server_secrecy(phase)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
