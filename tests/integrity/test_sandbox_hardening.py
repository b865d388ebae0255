"""Hole 8, the sandbox's part: no seccomp check in the self-check, and a dry-run killed with
SIGTERM left its container running.

Seccomp: the self-check refuses settings that turn the filter off; the control is the
production settings, whose probe sees `Seccomp: 2`. SIGTERM: a participant's `unlearn
dry-run --sandbox docker` is terminated while its submission runs; no container or volume
with its owner label may remain. The control kills it with SIGKILL instead (nothing can
clean up then) and finds the container left behind, so the check can fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.docker import DockerRunner
from harness.runs.sandbox.reaper import reap_orphans

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
SLEEPER = Path(__file__).with_name("submissions") / "sleep_with_marker.py"


def test_self_check_refuses_a_sandbox_without_seccomp(test_settings):
    with pytest.raises(ConfigError, match="no seccomp filter"):
        DockerRunner(replace(test_settings, seccomp="unconfined")).self_check()


def test_control_self_check_sees_seccomp_with_the_production_flags(test_settings):
    assert DockerRunner(test_settings).self_check()["seccomp"] == "2"


def _owned(pid: int) -> tuple[list[str], list[str]]:
    owner = f"unlearn.owner={socket.gethostname()}:{pid}"
    containers = [c["name"] for c in dc.list_containers(label=owner)]
    volumes = [v["name"] for v in dc.list_volumes(label=owner)]
    return containers, volumes


def _runs_a_seed(container: str) -> bool:
    """Whether the runner has a run's child going: two runner processes in the container.
    (A run's output goes to its capture, not the container's log, so that cannot tell.)"""
    result = subprocess.run(
        ["docker", "top", container, "-o", "pid,args"], capture_output=True, text=True
    )
    return result.stdout.count("harness.runs.sandbox.runner") >= 2


def _dry_run_until_the_submission_runs(sandbox_image: str, tmp_path: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "unlearn.cli", "dry-run", str(SLEEPER), "--sandbox", "docker",
        "--replicas", "8", "--epochs", "1", "--cache-dir", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "UNLEARN_SANDBOX__IMAGE": sandbox_image}
    log = tmp_path / "dry-run.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        containers, _ = _owned(process.pid)
        jobs = [name for name in containers if not name.endswith("-out")]
        if jobs and _runs_a_seed(jobs[0]):
            return process
        time.sleep(1.0)
    process.kill()
    process.wait()
    raise AssertionError("the dry-run's submission never started")


def test_a_dry_run_stopped_with_sigterm_removes_its_container(sandbox_image, tmp_path):
    process = _dry_run_until_the_submission_runs(sandbox_image, tmp_path)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert _owned(process.pid) == ([], [])


def test_control_a_dry_run_killed_with_sigkill_leaves_its_container(sandbox_image, tmp_path):
    process = _dry_run_until_the_submission_runs(sandbox_image, tmp_path)
    process.kill()
    process.wait(timeout=60)
    try:
        containers, _ = _owned(process.pid)
        assert containers, "SIGKILL left nothing behind: the SIGTERM test could not fail"
    finally:
        reap_orphans()  # its owner is gone: the reaper removes what it left
    assert _owned(process.pid) == ([], [])
