"""DockerRunner against a real daemon: same weights as in process, self-check, reaping.

The equality test is the contract of issue 4 item 6: the sandbox and the in-process
LocalRunner (the local dry-run's code path) give bit-identical weights for the same job
and seeds.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.errors import ConfigError
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.docker import OWNER, DockerRunner, assigned_gpu, reap_orphans
from harness.runs.sandbox.docker_client import LABEL, SandboxSettings
from harness.runs.sandbox.local import LocalRunner

SUBMISSIONS = Path(__file__).with_name("submissions")


@pytest.mark.docker
def test_docker_runner_gives_the_same_weights_as_the_local_runner(test_settings, make_job):
    job = make_job(SUBMISSIONS / "finetune.py", seeds=(0, 1, 7))
    seen: list[int] = []
    outcomes = DockerRunner(test_settings).run(job, on_seed_done=seen.append)
    expected = LocalRunner().run(job)
    assert [o.seed for o in outcomes] == [0, 1, 7] and seen == [0, 1, 7]
    for outcome, reference in zip(outcomes, expected, strict=True):
        assert outcome.ok, outcome.error
        assert reference.ok and reference.state is not None
        assert outcome.state is not None and outcome.state.keys() == reference.state.keys()
        for name in reference.state:
            assert torch.equal(outcome.state[name], reference.state[name]), (outcome.seed, name)
    assert not torch.equal(outcomes[0].state["1.weight"], outcomes[1].state["1.weight"])


@pytest.mark.docker
def test_a_submission_cannot_claim_to_be_faster_than_it_was(test_settings, make_job):
    # It sleeps 2 s per seed and claims 1 ms: the time is measured outside the container.
    job = make_job(SUBMISSIONS / "slow_claims_fast.py", seeds=(0, 1))
    outcomes = DockerRunner(test_settings).run(job)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert all(o.seconds >= 2.0 for o in outcomes), [o.seconds for o in outcomes]


@pytest.mark.docker
def test_do_nothing_submission_returns_the_original_weights(test_settings, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py", seeds=(0, 1))
    for outcome in DockerRunner(test_settings).run(job):
        assert outcome.ok
        assert all(torch.equal(outcome.state[k], v) for k, v in job.original.items())


@pytest.mark.docker
def test_self_check_passes_with_the_production_flags(test_settings):
    findings = DockerRunner(test_settings).self_check()
    assert findings["interfaces"] == ["lo"] and findings["uid"] == 65534
    assert findings["seccomp"] == "2"
    assert findings["pids_max"] == str(test_settings.pids_limit)


@pytest.mark.docker
def test_describe_records_the_image_digest(test_settings):
    facts = DockerRunner(test_settings).describe()
    assert facts["image_id"].startswith("sha256:") and len(facts["image_id"]) == 71
    assert facts["network"] == "none" and facts["runner"] == "docker"


@pytest.mark.docker
def test_missing_image_is_a_config_error_naming_the_build_script(test_settings):
    runner = DockerRunner(replace(test_settings, image="unlearn-sandbox:does-not-exist"))
    with pytest.raises(ConfigError, match="build_sandbox_image.sh"):
        runner.describe()


@pytest.mark.docker
def test_reap_orphans_removes_containers_of_a_dead_worker(test_settings, tmp_path):
    dead_pid = 2**22 + 12345  # above pid_max: no such process
    flags = dc.hardening_flags(
        test_settings,
        threads=1,
        mounts=[],
        labels={
            "unlearn.owner": f"{socket.gethostname()}:{dead_pid}",
            "unlearn.deadline": str(2**40),
        },
    )
    name = "unlearn-test-orphan"
    dc.remove_container(name)
    dc.create_container(
        name=name,
        image=test_settings.image,
        flags=flags,
        entrypoint="/bin/sleep",
        command=["300"],
    )
    dc.start_container(name)
    assert name in reap_orphans()
    listed = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert name not in listed


def test_hardening_flags_hold_every_control():
    flags = " ".join(
        dc.hardening_flags(
            SandboxSettings(gpu="1"),
            threads=2,
            mounts=[(Path("/data/job"), "/job", True)],
            volumes=[("unlearn-job-x-out", "/out", False)],
            labels={"unlearn.job": "j"},
        )
    )
    for expected in [
        "--network none",
        "--read-only",
        "--user 65534:65534",
        "--cap-drop ALL",
        "--security-opt no-new-privileges:true",
        "--pids-limit 256",
        "--memory 8g",
        "--memory-swap 8g",
        "--cpus 2.0",  # the job's threads: the CPU its retraining was timed with
        "--ulimit msgqueue=0:0",
        "--sysctl kernel.shm_rmid_forced=1",
        "--sysctl kernel.msgmni=0",
        "--sysctl kernel.sem=0 0 0 0",
        "--log-opt max-size=10m",
        "--gpus device=1",
        "--env OMP_NUM_THREADS=2",
        "--env HOME=/tmp",
        "type=bind,source=/data/job,target=/job,readonly",
        f"--label {LABEL}=1",
        "--tmpfs /tmp:rw,nosuid,nodev,size=256m",
        "type=volume,source=unlearn-job-x-out,target=/out,volume-nocopy=true",
    ]:
        assert expected in flags, expected
    assert "--gpus all" not in flags
    assert "--init" not in flags  # the runner is pid 1: no init whose /proc/1/fd a run reads
    assert "seccomp" not in flags  # the daemon's default profile, which the self-check wants
    unconfined = " ".join(
        dc.hardening_flags(SandboxSettings(seccomp="unconfined"), threads=1, mounts=[], labels={})
    )
    assert "--security-opt seccomp=unconfined" in unconfined


@pytest.mark.parametrize("socket_path", ["/var/run/docker.sock", "/run/docker.sock"])
def test_hardening_flags_refuse_to_mount_the_docker_socket(socket_path):
    with pytest.raises(ConfigError, match="Docker socket"):
        dc.hardening_flags(
            SandboxSettings(), threads=1, mounts=[(Path(socket_path), "/sock", True)], labels={}
        )


@pytest.mark.parametrize(
    ("device", "configured", "expected"),
    [("cpu", "3", None), ("cuda", None, "0"), ("cuda:2", None, "2"), ("cuda:2", "5", "5")],
)
def test_a_job_sees_exactly_one_gpu(device, configured, expected):
    assert assigned_gpu(device, configured) == expected


def test_a_malformed_cuda_device_is_refused():
    with pytest.raises(ConfigError, match="cuda:N"):
        assigned_gpu("cuda:all", None)


def _sandbox_containers() -> list[str]:
    """Sandbox containers of this test process (others may share the daemon)."""
    owner = f"label=unlearn.owner={OWNER}"
    return subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--filter", owner]
        + ["--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


@pytest.mark.docker
def test_a_prestarted_container_runs_the_job_with_the_same_weights(test_settings, make_job):
    job = make_job(SUBMISSIONS / "finetune.py", seeds=(0, 5))
    runner = DockerRunner(test_settings)
    runner.prestart(threads=job.threads)
    runner._standby_thread.join()  # type: ignore[union-attr]
    standby = runner._standby
    assert standby is not None and standby.name in _sandbox_containers()
    outcomes = runner.run(job)
    expected = LocalRunner().run(job)
    assert standby.name not in _sandbox_containers()  # it ran the job and was removed
    assert not standby.root.exists()
    for outcome, reference in zip(outcomes, expected, strict=True):
        assert outcome.ok and reference.ok, (outcome.error, reference.error)
        assert all(torch.equal(outcome.state[k], v) for k, v in reference.state.items())


@pytest.mark.docker
def test_a_standby_that_does_not_fit_the_job_is_replaced(test_settings, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py")
    runner = DockerRunner(test_settings)
    runner.prestart(threads=2)  # the job asks for 1 thread: OMP_NUM_THREADS would differ
    runner._standby_thread.join()  # type: ignore[union-attr]
    standby = runner._standby
    assert standby is not None
    [outcome] = runner.run(job)
    assert outcome.ok
    assert standby.name not in _sandbox_containers() and not standby.root.exists()


@pytest.mark.docker
def test_close_removes_an_unused_standby(test_settings):
    runner = DockerRunner(test_settings)
    runner.prestart()
    runner.close()
    assert runner._standby is None
    assert not [name for name in _sandbox_containers() if name.startswith("unlearn-job-")]


@pytest.mark.docker
def test_the_reaper_honours_the_deadline_of_the_job_a_standby_was_handed(test_settings):
    runner = DockerRunner(replace(test_settings, standby_s=1.0, stop_grace_s=0.0))
    runner.prestart()
    runner._standby_thread.join()  # type: ignore[union-attr]
    standby = runner._standby
    assert standby is not None
    time.sleep(2.0)
    try:
        # Its label's deadline (standby_s) has passed; the job's deadline file has not.
        (standby.root / "deadline").write_text(str(2**40), encoding="utf-8")
        assert standby.name not in reap_orphans()
        (standby.root / "deadline").unlink()
        assert standby.name in reap_orphans()
    finally:
        runner.close()


KAGGLE_SCRATCH = Path(__file__).with_name("submissions") / "kaggle_scratch.py"


def test_kaggle2023_runs_get_fresh_kaggle_folders_and_their_device(test_settings, make_job):
    job = replace(make_job(KAGGLE_SCRATCH, seeds=(0, 1)), interface="kaggle2023")
    outcomes = DockerRunner(test_settings).run(job)
    for outcome in outcomes:  # writable, and empty again for the second run
        assert outcome.ok, outcome.error
        assert "KAGGLE fresh" in outcome.log_excerpt, outcome.log_excerpt
        assert "DEVICE cpu" in outcome.log_excerpt, outcome.log_excerpt


def test_control_other_interfaces_have_no_kaggle_folders(test_settings, make_job):
    [outcome] = DockerRunner(test_settings).run(make_job(KAGGLE_SCRATCH))
    assert outcome.ok, outcome.error
    assert "KAGGLE missing" in outcome.log_excerpt and "DEVICE None" in outcome.log_excerpt
