"""The self-check: before the first job, prove that confinement is in force, or refuse.

`choose_runtime(settings, runc_allowed=...)` picks the container runtime where the settings
name none: gVisor (`runsc`) wherever the Docker daemon has it registered, else runc, which
shares the host's kernel and is refused unless the caller allows it (production allows it
only when an organizer names it: UNLEARN_SANDBOX__RUNTIME=runc).
`check_confinement(settings, run_probe)` runs `probe.py` in a container started with the
job's flags (the caller's `run_probe`), logs the runtime it ran under, and raises
ConfigError listing every control the probe found missing (`confinement_problems`). A
settings value passes once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from harness.errors import ConfigError
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.docker_client import SandboxSettings

__all__ = [
    "RUNSC_PIDS_ADVISED",
    "check_confinement",
    "choose_runtime",
    "confinement_problems",
    "is_checked",
]

logger = logging.getLogger(__name__)

# Under gVisor (ptrace platform) the pids limit counts the sandbox kernel's host threads:
# about 70 for a run without DataLoader workers, about 30 more per worker process.
RUNSC_PIDS_ADVISED = 1024
SECCOMP_FILTER = "2"  # /proc/self/status `Seccomp:` when a seccomp filter is in force

# Settings whose confinement a probe has verified in this process: one probe per settings.
_CHECKED: set[SandboxSettings] = set()


def is_checked(settings: SandboxSettings) -> bool:
    return settings in _CHECKED


def choose_runtime(settings: SandboxSettings, *, runc_allowed: bool) -> SandboxSettings:
    """`settings` with the runtime its sandboxes run under. A named runtime is kept (naming
    `runc` is how an organizer accepts it); else gVisor where the daemon has `runsc`, with
    the pids limit raised to what gVisor needs; else the daemon's default, a ConfigError
    when that is runc and `runc_allowed` is false."""
    if settings.runtime:
        return settings
    if "runsc" in dc.daemon_runtimes():
        pids = settings.pids_limit
        if pids is not None and pids < RUNSC_PIDS_ADVISED:
            pids = RUNSC_PIDS_ADVISED
        return replace(settings, runtime="runsc", pids_limit=pids)
    default = dc.daemon_default_runtime()
    if default == "runc" and not runc_allowed:
        raise ConfigError(
            "gVisor (runsc) is not registered with the Docker daemon, and production does not "
            "run submissions under runc (the host's kernel) unless told to: install gVisor "
            "and register it (scripts/start_docker.sh, docs/deploy.md), or accept runc by "
            "name with UNLEARN_SANDBOX__RUNTIME=runc"
        )
    return settings


def check_confinement(
    settings: SandboxSettings, run_probe: Callable[[], dict[str, object]]
) -> dict[str, object]:
    """Run the probe; ConfigError unless confinement holds. Returns the probe's findings.

    Checks: only the loopback interface and no route; read-only root; non-root uid; no
    capabilities and no-new-privileges; a seccomp filter; a pids and a memory limit; no
    Docker socket; an environment holding only the runner's variables.
    """
    if settings.runtime and settings.runtime not in dc.daemon_runtimes():
        raise ConfigError(
            f"runtime {settings.runtime!r} is not registered with the Docker daemon; "
            "see scripts/start_docker.sh"
        )
    runtime = settings.runtime or dc.daemon_default_runtime()
    findings = {**run_probe(), "runtime": runtime}
    problems = confinement_problems(findings, settings)
    if problems:
        raise ConfigError(
            "sandbox confinement is not in force, refusing to run submissions: "
            + "; ".join(problems)
        )
    pids = settings.pids_limit
    if settings.runtime == "runsc" and pids is not None and pids < RUNSC_PIDS_ADVISED:
        logger.warning(
            "pids_limit %d under gVisor: each process in the sandbox costs about 30 host "
            "threads (a run with 4 DataLoader workers peaked at 204), and reaching the limit "
            "ends the whole sandbox; %d is advised",
            pids,
            RUNSC_PIDS_ADVISED,
        )
    kernel = "gVisor's own kernel" if runtime == "runsc" else "the host's kernel"
    logger.info("sandbox self-check passed: runtime %s (%s)", runtime, kernel)
    _CHECKED.add(settings)
    return findings


def confinement_problems(findings: dict[str, object], settings: SandboxSettings) -> list[str]:
    """What the probe saw that contradicts confinement (empty list: all in force)."""
    problems = []
    if settings.network == "none":
        if findings.get("interfaces") != ["lo"]:
            problems.append(f"network interfaces {findings.get('interfaces')} (want only lo)")
        if findings.get("routes"):
            problems.append(f"routes {findings.get('routes')} (want none)")
    else:
        problems.append(f"network mode {settings.network!r} (want none)")
    if findings.get("root_mount_read_only") is not True:
        problems.append("the root filesystem is writable")
    if findings.get("uid") == 0:
        problems.append("the container runs as root")
    if findings.get("cap_eff") != 0 or findings.get("cap_bnd") != 0:
        problems.append(
            "capabilities held "
            f"(CapEff={findings.get('cap_eff')}, CapBnd={findings.get('cap_bnd')})"
        )
    if findings.get("no_new_privs") != 1:
        problems.append("no-new-privileges is off")
    if settings.runtime != "runsc":
        # gVisor enforces cgroup limits on the host side and shows none inside; it filters
        # the system calls of its own kernel with seccomp, outside the sandbox's view.
        if findings.get("pids_max") in (None, "max"):
            problems.append(f"no process limit (pids.max={findings.get('pids_max')})")
        if findings.get("memory_limited") is not True:
            problems.append("no memory limit")
        if findings.get("seccomp") != SECCOMP_FILTER:
            problems.append(
                f"no seccomp filter (Seccomp: {findings.get('seccomp')}, want 2); do not run "
                "with seccomp=unconfined"
            )
    if findings.get("docker_socket"):
        problems.append("a Docker socket is reachable")
    allowed = {"HOME", "TMPDIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONUNBUFFERED"}
    # LC_CTYPE: Python sets it itself when the locale is C (PEP 538 locale coercion).
    allowed |= {"PATH", "HOSTNAME", "LC_CTYPE"} | {key for key, _ in settings.environment}
    environment = findings.get("environment", [])
    names = set(environment) if isinstance(environment, list) else {"<unreadable>"}
    unexpected = sorted(names - allowed)
    if unexpected:
        problems.append(f"unexpected environment variables {unexpected}")
    return problems
