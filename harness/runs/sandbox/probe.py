"""Confinement probe, run inside a sandbox container by `DockerRunner.self_check()`.

Standalone (standard library only, no torch, no harness imports): the trusted side passes
this file's text to `python -I -c` in a container started with the job's flags, and reads
one JSON line of findings from its output. `selfcheck.confinement_problems()` judges them.
It only reads files and makes no network call.
"""

import ctypes
import json
import os
import sys

PR_GET_NO_NEW_PRIVS = 39


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _status_field(name: str) -> str | None:
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def _no_new_privs() -> int:
    # prctl works under runc and gVisor; gVisor's /proc/self/status lacks the NoNewPrivs line.
    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return int(_status_field("NoNewPrivs") or "-1")


def _interfaces() -> list[str]:
    lines = (_read("/proc/net/dev") or "").splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def _routes() -> list[str]:
    v4 = [line.split()[0] for line in (_read("/proc/net/route") or "").splitlines()[1:] if line]
    v6 = [
        line.split()[-1]
        for line in (_read("/proc/net/ipv6_route") or "").splitlines()
        if line.split() and line.split()[-1] != "lo"
    ]
    return v4 + v6


def _root_read_only() -> bool | None:
    for line in (_read("/proc/self/mountinfo") or "").splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[4] == "/":
            return "ro" in fields[5].split(",")
    return None


def _cgroup_value(*paths: str) -> str | None:
    for path in paths:
        text = _read(path)
        if text is not None:
            return text.strip()
    return None


def main() -> None:
    memory = _cgroup_value(
        "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"
    )
    findings = {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "interfaces": _interfaces(),
        "routes": _routes(),
        "root_mount_read_only": _root_read_only(),
        "cap_eff": int(_status_field("CapEff") or "-1", 16),
        "cap_bnd": int(_status_field("CapBnd") or "-1", 16),
        "no_new_privs": _no_new_privs(),
        "seccomp": _status_field("Seccomp"),
        "pids_max": _cgroup_value("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
        "memory_limited": memory is not None and memory != "max" and int(memory) < 2**62,
        "docker_socket": any(
            os.path.exists(p) for p in ("/var/run/docker.sock", "/run/docker.sock")
        ),
        "environment": sorted(os.environ),
    }
    sys.stdout.write(json.dumps(findings) + "\n")


main()
