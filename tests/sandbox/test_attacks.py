"""The attack suite: every hostile submission in attacks/ against the real sandbox.

Each attack's header declares the outcome per seed (`# expect:`) and, optionally, text the
error must contain (`# message:`); timing attacks at least a run time per seed
(`# min-seconds:`), output attacks the category of the trusted evaluation of their weights
(`# evaluated:`). Deny-probes (files defining `probe()`) must report no
escape. After every run no sandbox container may be left behind. The control run switches
confinement off and shows that the deny-probes marked `# control: escapes` then do fail,
so they pass for the right reason. The same probes run again under gVisor when the daemon
has the runsc runtime.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from harness.errors import SubmissionError
from harness.evaluate import evaluate_states
from harness.runs.execute import validated_states
from harness.runs.sandbox.base import Job
from harness.runs.sandbox.docker import OWNER, DockerRunner
from harness.runs.sandbox.docker_client import LABEL, SandboxSettings

pytestmark = pytest.mark.docker

ATTACKS = Path(__file__).with_name("attacks")
TIMEOUT_LIMIT_S = 2.0  # per seed, for the attacks expected to time out
TIMEOUT_STARTUP_S = 8.0


@dataclass(frozen=True)
class Attack:
    path: Path
    expect: tuple[str, ...]  # outcome category per seed ("ok" for success)
    message: str
    control_escapes: bool
    is_probe: bool
    min_seconds: float = 0.0  # each seed's measured run time must be at least this
    evaluated: str = ""  # the category the trusted evaluation of its weights must give

    @property
    def name(self) -> str:
        return self.path.stem


def _header(text: str, key: str) -> str:
    match = re.search(rf"^# {key}: (.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def load_attacks() -> list[Attack]:
    attacks = []
    for path in sorted(ATTACKS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        expect = tuple(part.strip() for part in _header(text, "expect").split(","))
        assert expect != ("",), f"{path.name} declares no `# expect:` outcome"
        attacks.append(
            Attack(
                path=path,
                expect=expect,
                message=_header(text, "message"),
                control_escapes=_header(text, "control") == "escapes",
                is_probe="def probe()" in text,
                min_seconds=float(_header(text, "min-seconds") or 0.0),
                evaluated=_header(text, "evaluated"),
            )
        )
    return attacks


ALL_ATTACKS = load_attacks()


def _category(outcome) -> str:  # type: ignore[no-untyped-def]
    return "ok" if outcome.ok else outcome.error.category


def _sandbox_containers() -> list[str]:
    """Sandbox containers started by this test process (other processes may run their own)."""
    result = subprocess.run(
        [
            "docker",
            "ps",
            "--all",
            "--quiet",
            "--filter",
            f"label={LABEL}",
            "--filter",
            f"label=unlearn.owner={OWNER}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def _host_processes(marker: str) -> list[str]:
    result = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if marker in line]


PROBES = [a for a in ALL_ATTACKS if a.is_probe]
PROGRAMS = [a for a in ALL_ATTACKS if not a.is_probe]
REPORT_MARK = "PROBE-REPORT "


def _combined_probes(tmp_path: Path, attacks: list[Attack]) -> Path:
    """One submission folder running many deny-probes in one container (one torch start-up).

    It prints a JSON report {probe: {"escapes": [...], "crashed": str}} and fails if any probe
    escaped or crashed (a crashed probe proves nothing, so it counts against the probe).
    """
    folder = tmp_path / "probes"
    folder.mkdir()
    for attack in attacks:
        (folder / f"{attack.name}.py").write_text(attack.path.read_text(encoding="utf-8"))
    (folder / "submission.py").write_text(
        "import importlib, json\n"
        f"NAMES = {[a.name for a in attacks]!r}\n"
        "def unlearning(net, retain_loader, forget_loader, val_loader):\n"
        "    report = {}\n"
        "    for name in NAMES:\n"
        "        try:\n"
        "            report[name] = {'escapes': importlib.import_module(name).probe()}\n"
        "        except Exception as exc:\n"
        "            report[name] = {'escapes': [], 'crashed': repr(exc)}\n"
        f"    print({REPORT_MARK!r} + json.dumps(report), flush=True)\n"
        "    if any(r['escapes'] or r.get('crashed') for r in report.values()):\n"
        "        raise AssertionError('ESCAPED or crashed: see the probe report')\n"
    )
    return folder


def _probe_report(runner: DockerRunner, tmp_path: Path, attacks: list[Attack], make_job):  # type: ignore[no-untyped-def]
    [outcome] = runner.run(make_job(_combined_probes(tmp_path, attacks)))
    lines = [line for line in outcome.log_excerpt.splitlines() if line.startswith(REPORT_MARK)]
    assert lines, f"no probe report in the log: {outcome.log_excerpt[-2000:]}"
    return outcome, json.loads(lines[-1][len(REPORT_MARK) :])


@pytest.fixture(scope="module")
def confined_report(test_settings: SandboxSettings, tmp_path_factory, make_job):  # type: ignore[no-untyped-def]
    runner = DockerRunner(replace(test_settings, log_excerpt_chars=100_000))
    return _probe_report(runner, tmp_path_factory.mktemp("confined"), PROBES, make_job)


def test_attack_suite_covers_at_least_25_attacks():
    assert len(ALL_ATTACKS) >= 25
    assert sum(a.control_escapes for a in ALL_ATTACKS) >= 5


@pytest.mark.parametrize("attack", PROBES, ids=lambda a: a.name)
def test_deny_probe(attack: Attack, confined_report) -> None:  # type: ignore[no-untyped-def]
    outcome, report = confined_report
    assert report[attack.name] == {"escapes": []}
    assert _sandbox_containers() == [], "a sandbox container was left behind"


def test_deny_probes_all_pass_in_one_run(confined_report) -> None:  # type: ignore[no-untyped-def]
    outcome, report = confined_report
    assert outcome.ok, report


@pytest.mark.parametrize("attack", PROGRAMS, ids=lambda a: a.name)
def test_deny_attack(
    attack: Attack, test_settings: SandboxSettings, make_job, tmp_path: Path
) -> None:
    seeds = tuple(range(len(attack.expect)))
    settings, limit_s = test_settings, 60.0
    if "timeout" in attack.expect:
        settings, limit_s = replace(test_settings, startup_s=TIMEOUT_STARTUP_S), TIMEOUT_LIMIT_S
    runner = DockerRunner(settings, work_dir=tmp_path / "jobs")  # private: others run too
    started = time.monotonic()
    outcomes = runner.run(make_job(attack.path, seeds=seeds, time_limit_s=limit_s))
    elapsed = time.monotonic() - started

    report = [(o.seed, _category(o), o.error.message if o.error else "") for o in outcomes]
    assert tuple(_category(o) for o in outcomes) == attack.expect, report
    for outcome in outcomes:
        assert len(outcome.log_excerpt) <= settings.log_excerpt_chars
    if attack.message and not attack.evaluated:
        assert any(attack.message in o.error.message for o in outcomes if o.error), report
    assert all(o.seconds >= attack.min_seconds for o in outcomes), [o.seconds for o in outcomes]
    if attack.evaluated:
        with pytest.raises(SubmissionError) as caught:
            _evaluate(outcomes, make_job(attack.path, seeds=seeds))
        assert caught.value.category == attack.evaluated
        assert attack.message in caught.value.message
    assert _sandbox_containers() == [], "a sandbox container was left behind"
    assert not list(runner.work_dir.iterdir()), "a job folder was left behind"

    if "timeout" in attack.expect:  # each run stopped by the runner at its own limit
        for outcome in outcomes:  # from the run's start to its kill and sweep
            assert TIMEOUT_LIMIT_S <= outcome.seconds < TIMEOUT_LIMIT_S + 1, outcome.seconds
        deadline = TIMEOUT_STARTUP_S + TIMEOUT_LIMIT_S * len(seeds)
        # Whole call: also the container's start-up before the hand-over, and the clean-up.
        assert elapsed < deadline + settings.stop_grace_s + 45, f"took {elapsed:.1f} s"
    if attack.name == "background_process":
        assert _host_processes("sleep 31337") == []
    if attack.name == "out_pickle":
        assert not Path("/tmp/pwned-by-pickle").exists()
    if attack.name == "reuse_result":  # no first result to reuse: every seed ran
        first, second = (o.state for o in outcomes)
        assert not all(torch.equal(first[k], second[k]) for k in first)


@dataclass(frozen=True)
class _JobSplits:
    """The job's tensors as the trusted evaluation reads a phase's splits (test: val)."""

    job: Job

    def tensors(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        return {"forget": self.job.forget, "retain": self.job.retain, "test": self.job.val}[part]


def _evaluate(outcomes, job: Job):  # type: ignore[no-untyped-def]
    """The trusted side's checks and evaluation of the weights, as the worker runs them."""
    states = validated_states(outcomes, job.original)
    return evaluate_states(job.spec, states, _JobSplits(job), seeds=[o.seed for o in outcomes])  # type: ignore[arg-type]


TIMING_ATTACKS = [a for a in ALL_ATTACKS if a.min_seconds]


@pytest.mark.parametrize("attack", TIMING_ATTACKS, ids=lambda a: a.name)
def test_control_timing_attacks_win_when_the_runners_clock_is_believed(
    attack: Attack, test_settings: SandboxSettings, make_job, tmp_path: Path
) -> None:
    """With the runner's clock believed and every seed in one process (the behaviour before
    outside timing and per-run isolation), each timing attack gets a run time under its
    floor: the `min-seconds` check above can fail, so it passes for the right reason."""
    runner = DockerRunner(
        test_settings, work_dir=tmp_path / "jobs", outside_timing=False, isolate_runs=False
    )
    outcomes = runner.run(make_job(attack.path, seeds=tuple(range(len(attack.expect)))))
    seconds = sorted(o.seconds for o in outcomes)
    assert seconds[len(seconds) // 2] < attack.min_seconds, seconds


def test_control_run_without_confinement_lets_probes_escape(
    tmp_path: Path, test_settings: SandboxSettings, make_job
) -> None:
    probes = [a for a in ALL_ATTACKS if a.control_escapes]
    unconfined = replace(test_settings.without_confinement(), log_excerpt_chars=100_000)
    runner = DockerRunner(unconfined, require_confinement=False)
    outcome, report = _probe_report(runner, tmp_path, probes, make_job)
    assert not outcome.ok
    crashed = {name: r["crashed"] for name, r in report.items() if r.get("crashed")}
    assert crashed == {}
    silent = [a.name for a in probes if not report[a.name]["escapes"]]
    assert silent == [], f"these deny-probes did not fail without confinement: {silent}"


def test_self_check_refuses_settings_without_confinement(test_settings: SandboxSettings):
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="root filesystem is writable"):
        DockerRunner(replace(test_settings, read_only_root=False)).self_check()
    with pytest.raises(ConfigError, match="network mode"):
        DockerRunner(test_settings.without_confinement()).self_check()


# What gVisor allows inside its own user-space kernel, where it reaches nothing of the host
# (docs/sandbox.md): user namespaces, raw sockets on a stack with loopback only, and a tmpfs
# without an inode cap (its memory still counts against the container's limit).
GVISOR_CONTAINED = {
    "escalate_privileges": ("unshare(user+mount namespace) worked",),
    "net_raw_socket": ("opened raw socket",),
    "fill_disk": ("created 20000 files in /tmp",),
}


def test_deny_probes_under_gvisor(
    tmp_path: Path, runsc_settings: SandboxSettings, make_job, caplog: pytest.LogCaptureFixture
):
    runner = DockerRunner(replace(runsc_settings, log_excerpt_chars=100_000))
    with caplog.at_level(logging.WARNING, logger="harness.runs.sandbox.docker"):
        runner.self_check()
    assert "pids_limit 256 under gVisor" in caplog.text  # the tests' 256 is below the advice
    outcome, report = _probe_report(runner, tmp_path, PROBES, make_job)
    crashed = {name: r["crashed"] for name, r in report.items() if r.get("crashed")}
    assert crashed == {}
    escapes = {(name, escape) for name, r in report.items() for escape in r["escapes"]}
    unexplained = {(n, e) for n, e in escapes if not e.startswith(GVISOR_CONTAINED.get(n, ()))}
    assert unexplained == set()


@pytest.mark.parametrize("name", ["memory_bomb", "out_symlink"])
def test_resource_attacks_under_gvisor(name: str, runsc_settings: SandboxSettings, make_job):
    [attack] = [a for a in ALL_ATTACKS if a.name == name]
    [outcome] = DockerRunner(runsc_settings).run(make_job(attack.path))
    assert _category(outcome) == attack.expect[0], outcome.error and outcome.error.message


def test_fork_bomb_under_gvisor_ends_the_sandbox(runsc_settings: SandboxSettings, make_job):
    """Under gVisor a fork bomb never sees EAGAIN: the process limit counts the sandbox
    kernel's host threads, and reaching it ends the whole sandbox (exit 2); or the kernel's
    memory per task reaches the memory limit first. Which comes first depends on the
    machine's speed; both stop the bomb, and the participant is told why."""
    [attack] = [a for a in ALL_ATTACKS if a.name == "fork_bomb"]
    runner = DockerRunner(runsc_settings)
    [outcome] = runner.run(make_job(attack.path))
    assert not outcome.ok
    message = outcome.error.message
    if outcome.error.category == "out_of_memory":
        assert "memory limit (1g)" in message
    else:
        assert outcome.error.category == "exception", message
        assert "more processes or threads than the sandbox's process limit" in message
    assert _sandbox_containers() == []
