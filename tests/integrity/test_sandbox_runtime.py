"""Which runtime a worker's sandboxes run under (review F10): gVisor wherever it is installed.

The exploit: a deployment that sets no runtime ran every submission under runc, on the
host's kernel, while the worker holds the Docker socket. Now a worker that is told nothing
picks gVisor (`runsc`) where dockerd has it, the self-check says which runtime ran, and a
production worker on a host without gVisor refuses to start submissions unless runc is
named. Controls: a named runtime is kept, and development accepts runc.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from competition.settings import PipelineSettings
from harness.errors import ConfigError
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.docker import DockerRunner
from harness.runs.sandbox.selfcheck import RUNSC_PIDS_ADVISED, choose_runtime

pytestmark = pytest.mark.docker


@pytest.fixture
def gvisor() -> None:
    if "runsc" not in dc.daemon_runtimes():
        pytest.skip("gVisor (runsc) is not registered with the Docker daemon")


def test_worker_runs_gvisor_where_dockerd_has_it(gvisor, test_settings, tmp_path):
    from worker.harness_backend import HarnessBackend

    settings = PipelineSettings(
        environment="production",
        secret_key="a-long-random-secret-key-for-tests",
        data_dir=tmp_path,
        sandbox={"image": test_settings.image},
    )
    runner = HarnessBackend(settings=settings, store=None).runner  # type: ignore[arg-type]
    assert isinstance(runner, DockerRunner)
    assert runner.settings.runtime == "runsc"
    assert runner.settings.pids_limit == RUNSC_PIDS_ADVISED  # room for gVisor's threads


def test_self_check_says_which_runtime_ran(gvisor, test_settings):
    chosen = choose_runtime(test_settings, runc_allowed=False)
    assert DockerRunner(chosen).self_check()["runtime"] == "runsc"
    # Control: an organizer who names runc gets runc, and the self-check says so.
    named = choose_runtime(replace(test_settings, runtime="runc"), runc_allowed=False)
    assert named.runtime == "runc"
    assert DockerRunner(named).self_check()["runtime"] == "runc"


def test_production_refuses_runc_unless_named(monkeypatch, test_settings):
    # A host without gVisor: this machine has it registered, so the daemon's runtime list
    # is narrowed to what such a host answers (the daemon's default stays the real one).
    monkeypatch.setattr(dc, "daemon_runtimes", lambda: {"runc", "io.containerd.runc.v2"})
    with pytest.raises(ConfigError, match="UNLEARN_SANDBOX__RUNTIME=runc"):
        choose_runtime(test_settings, runc_allowed=False)
    # Controls: named, runc is accepted; in development the daemon's default is kept.
    named = replace(test_settings, runtime="runc")
    assert choose_runtime(named, runc_allowed=False) == named
    assert choose_runtime(test_settings, runc_allowed=True).runtime is None
