"""2023-style submissions through the Docker sandbox: they run, and give the in-process weights.

The image holds what they import (numpy, scipy, scikit-learn, pandas, tqdm); `tqdm.notebook`
prints text bars; the scratch TMPDIR is writable and emptied between seeds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.runs.sandbox.docker import DockerRunner
from harness.runs.sandbox.docker_client import SandboxSettings
from harness.runs.sandbox.local import LocalRunner
from tests.sandbox.conftest import tiny_job

SUBMISSIONS = Path(__file__).parent / "submissions"

LEAVES_A_FILE = """
import os, tempfile
def unlearning(net, retain_loader, forget_loader, val_loader):
    marker = os.path.join(tempfile.gettempdir(), "left-by-a-seed")
    assert not os.path.exists(marker), "the scratch folder was not emptied between seeds"
    with open(marker, "w") as handle:
        handle.write("x" * 1000)
"""


@pytest.mark.docker
@pytest.mark.parametrize(
    ("name", "interface"),
    [
        ("kaggle_dicts.py", "kaggle2023"),
        ("kaggle_device_argument.py", "kaggle2023"),
        ("rebuilt_loaders.py", "tuple"),
        ("returns_model.py", "tuple"),
        ("keyword_defaults.py", "tuple"),
        ("scratch_checkpoint.py", "tuple"),
    ],
)
def test_participant_submission_runs_in_the_sandbox_as_in_process(
    name: str, interface: str, test_settings: SandboxSettings
) -> None:
    job = replace(tiny_job(SUBMISSIONS / name, seeds=(0, 1)), interface=interface)
    sandboxed = DockerRunner(test_settings).run(job)
    local = LocalRunner().run(job)
    for inside, here in zip(sandboxed, local, strict=True):
        assert inside.ok, (inside.error, inside.log_excerpt)
        assert here.ok and here.state is not None and inside.state is not None
        for key in here.state:
            assert torch.equal(inside.state[key], here.state[key]), key


@pytest.mark.docker
def test_scratch_folder_is_writable_and_emptied_between_seeds(
    tmp_path: Path, test_settings: SandboxSettings
) -> None:
    path = tmp_path / "submission.py"
    path.write_text(LEAVES_A_FILE)
    outcomes = DockerRunner(test_settings).run(tiny_job(path, seeds=(0, 1, 2)))
    assert all(o.ok for o in outcomes), [(o.error, o.log_excerpt) for o in outcomes]
