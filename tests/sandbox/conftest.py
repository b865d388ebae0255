"""Fixtures for the sandbox tests: a tiny job, the sandbox image, test-sized settings.

Tests marked `docker` need a reachable Docker daemon; without one they are skipped with the
reason. With one, the `sandbox_image` fixture builds the image (a no-op when the build
inputs are unchanged) so the tests always run the runner code of this tree.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.models import ModelSpec, build_model
from harness.runs.sandbox.base import Job
from harness.runs.sandbox.docker_client import SandboxSettings

REPO = Path(__file__).resolve().parents[2]
SPEC = ModelSpec(name="mlp", num_classes=3, input_shape=(8,), hidden=(16,))


def tiny_job(submission: Path, *, seeds: tuple[int, ...] = (0,), time_limit_s: float = 60.0) -> Job:
    """A tiny MLP and a tiny random dataset: fast enough to run dozens of containers."""
    generator = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    original = {k: v.clone() for k, v in build_model(SPEC).state_dict().items()}

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 8, generator=generator), torch.randint(
            0, 3, (n,), generator=generator
        )

    return Job(
        submission=submission,
        spec=SPEC,
        original=original,
        retain=split(64),
        forget=split(16),
        val=split(16),
        seeds=seeds,
        batch_size=16,
        threads=1,
        time_limit_s=time_limit_s,
    )


@pytest.fixture(scope="session")
def make_job() -> Callable[..., Job]:
    return tiny_job


def _daemon_reachable() -> str | None:
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    if result.returncode != 0:
        return "no Docker daemon reachable (start one with scripts/start_docker.sh)"
    return None


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    reason = _daemon_reachable()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        [str(REPO / "scripts" / "build_sandbox_image.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"building the sandbox image failed:\n{result.stderr[-3000:]}"
    return result.stdout.split()[0]


@pytest.fixture(scope="session")
def test_settings(sandbox_image: str) -> SandboxSettings:
    """Production flags with test-sized limits (1 GiB memory, 64 MiB tmpfs, short grace)."""
    return SandboxSettings(
        image=sandbox_image,
        memory="1g",
        pids_limit=64,
        tmp_size="64m",
        shm_size="64m",
        output_size="64m",
        log_max_size="1m",
        startup_s=30.0,
        stop_grace_s=1.0,
    )


@pytest.fixture(scope="session")
def runsc_settings(test_settings: SandboxSettings) -> SandboxSettings:
    from harness.runs.sandbox.docker_client import daemon_runtimes

    if "runsc" not in daemon_runtimes():
        pytest.skip("gVisor (runsc) is not registered with the Docker daemon")
    # Under gVisor the host-side pids limit also counts the sandbox kernel's own threads
    # (Go runtime): at 64 the probe itself dies at exit, so give it room.
    return replace(test_settings, runtime="runsc", pids_limit=256)
