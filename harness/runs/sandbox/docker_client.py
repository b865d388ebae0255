"""Thin verbs over the `docker` command line, and every hardening flag in one place.

`SandboxSettings` holds each confinement control as a setting with a safe default;
`hardening_flags()` turns them into `docker create` arguments, and nothing else in the
project adds flags to a sandbox container. The other functions are one docker verb each
(create, start, wait, stop, inspect, logs, remove, list), run through `_docker()` with a
timeout so that a hung daemon cannot hang a worker.

Used by `docker.DockerRunner` (container lifecycle), `outputs` (copying /out out),
`selfcheck` (the probe) and `reaper` (orphans). Talks to the daemon
through the CLI, as the user running the worker; that user is root-equivalent on the host
(it holds the Docker socket), which is why the socket is never mounted into a sandbox.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from harness.errors import ConfigError, InfraRetry

__all__ = [
    "LABEL",
    "SandboxSettings",
    "container_state",
    "copy_out",
    "create_container",
    "create_output_volume",
    "daemon_default_runtime",
    "daemon_runtimes",
    "hardening_flags",
    "image_id",
    "list_containers",
    "list_volumes",
    "read_logs",
    "remove_container",
    "remove_volume",
    "start_container",
    "stop_container",
    "wait_container",
    "wait_for_log_line",
    "COPY_TIMEOUT_S",
]

logger = logging.getLogger(__name__)

LABEL = "unlearn.sandbox"  # every sandbox container carries it; reap_orphans() looks for it
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
CLI_TIMEOUT_S = 60.0
COPY_TIMEOUT_S = 60.0  # the copy of /out; counted in DockerRunner.max_container_seconds
# In the container's private IPC namespace: System V shared memory dies with the last
# process attached to it, and no message queue or semaphore set can be made, so no run
# leaves a segment for the next (POSIX queues: the msgqueue ulimit below is 0).
IPC_SYSCTLS = (
    ("kernel.shm_rmid_forced", "1"),
    ("kernel.msgmni", "0"),
    ("kernel.sem", "0 0 0 0"),
)


@dataclass(frozen=True)
class SandboxSettings:
    """Confinement of a sandbox container. The defaults are the safe, production values."""

    image: str = "unlearn-sandbox:latest"
    # "runsc" for gVisor; None: the daemon's default (runc). A worker resolves None with
    # `selfcheck.choose_runtime` (gVisor wherever the daemon has it) before its first job.
    runtime: str | None = None
    network: str = "none"  # no interface but loopback, no route, no DNS
    read_only_root: bool = True
    tmp_size: str = "256m"  # size-capped tmpfs at /tmp (also HOME)
    tmp_inodes: int = 16384  # file count cap of /tmp: many empty files cost kernel memory
    shm_size: str = "256m"  # /dev/shm, for DataLoader workers
    # /out is a tmpfs the Docker daemon mounts (a `local` volume of type tmpfs), capped at
    # this size and at `output_inodes` files; it needs no privilege on the caller's side, so
    # it works from a worker in a container too. There is no uncapped alternative.
    output_size: str = "1g"
    output_inodes: int = 1024
    user: str | None = "65534:65534"  # nobody:nogroup; None runs as the image's user
    drop_capabilities: bool = True
    no_new_privileges: bool = True
    seccomp: str | None = None  # None: the daemon's default profile (the self-check wants it)
    pids_limit: int | None = 256
    memory: str | None = "8g"  # also the memory+swap limit: no swap
    # None: the job's thread count, the CPU its retraining was timed with (the only fair
    # figure for the efficiency gate); a number overrides it for every job.
    cpus: float | None = None
    cpuset: str | None = None  # e.g. "0-3", pinned per GPU slot
    nofile: int = 4096
    ipc_limits: bool = True  # IPC_SYSCTLS and msgqueue=0; False only for a control run
    # No docker-init: the runner is pid 1, so no run can signal it or read an init's
    # descriptors through /proc/1/fd, and it reaps every orphan itself.
    init: bool = False
    log_max_size: str = "10m"  # json-file log cap, one file
    gpu: str | None = None  # a device index or UUID; never all GPUs
    environment: tuple[tuple[str, str], ...] = ()  # extra variables; no secrets, ever
    ready_timeout_s: float = 120.0  # a container not ready (imports done) by then: ours
    startup_s: float = 30.0  # after the job is handed over: reading it, importing submission
    standby_s: float = 600.0  # how long a prestarted container waits for its job
    default_time_limit_s: float = 3600.0  # per seed, when the job sets none
    stop_grace_s: float = 5.0  # SIGTERM -> SIGKILL at the deadline
    log_excerpt_chars: int = 4000  # of the container log shown with an error; 0 hides logs
    labels: tuple[tuple[str, str], ...] = ()  # extra container labels (worker id, phase...)

    def without_confinement(self) -> SandboxSettings:
        """The control run of the attack suite: every deny-control off. Never for submissions."""
        return replace(
            self,
            network="bridge",
            read_only_root=False,
            user="0:0",
            drop_capabilities=False,
            no_new_privileges=False,
            pids_limit=None,
            ipc_limits=False,
            environment=(*self.environment, ("UNLEARN_CANARY_SECRET", "leaked-canary")),
        )


def hardening_flags(
    settings: SandboxSettings,
    *,
    threads: int,
    mounts: Sequence[tuple[Path, str, bool]],
    labels: Mapping[str, str],
    volumes: Sequence[tuple[str, str, bool]] = (),
) -> list[str]:
    """All `docker create` flags of a sandbox container, built from `settings`.

    mounts: (host path, container path, read_only) bind mounts; the Docker socket is refused.
    volumes: (volume name, container path, read_only), e.g. the output tmpfs.
    """
    flags = ["--network", settings.network, "--hostname", "sandbox", "--ipc", "private"]
    if settings.runtime:
        flags += ["--runtime", settings.runtime]
    if settings.read_only_root:
        flags += ["--read-only"]
    flags += [
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,size={settings.tmp_size},nr_inodes={settings.tmp_inodes},mode=1777",
    ]
    flags += ["--shm-size", settings.shm_size]
    if settings.user:
        flags += ["--user", settings.user]
    if settings.drop_capabilities:
        flags += ["--cap-drop", "ALL"]
    if settings.no_new_privileges:
        flags += ["--security-opt", "no-new-privileges:true"]
    if settings.seccomp:
        flags += ["--security-opt", f"seccomp={settings.seccomp}"]
    if settings.pids_limit is not None:
        flags += ["--pids-limit", str(settings.pids_limit)]
    if settings.memory:
        flags += ["--memory", settings.memory, "--memory-swap", settings.memory]
    # The CPU the job's retraining was timed with (its threads): more threads gain nothing.
    flags += ["--cpus", str(settings.cpus or float(threads))]
    if settings.cpuset:
        flags += ["--cpuset-cpus", settings.cpuset]
    flags += ["--ulimit", f"nofile={settings.nofile}:{settings.nofile}"]
    if settings.ipc_limits:
        flags += ["--ulimit", "msgqueue=0:0"]
        for key, value in IPC_SYSCTLS:
            flags += ["--sysctl", f"{key}={value}"]
    if settings.init:
        flags += ["--init"]
    flags += ["--log-driver", "json-file", "--log-opt", f"max-size={settings.log_max_size}"]
    flags += ["--log-opt", "max-file=1"]
    if settings.gpu is not None:
        flags += ["--gpus", f"device={settings.gpu}"]
    environment = {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
        **dict(settings.environment),
    }
    for name, value in environment.items():
        flags += ["--env", f"{name}={value}"]
    for host, target, read_only in mounts:
        if any(str(Path(host).resolve()).startswith(sock) for sock in DOCKER_SOCKETS):
            raise ConfigError("the Docker socket must never be mounted into a sandbox")
        spec = f"type=bind,source={host},target={target}"
        flags += ["--mount", spec + (",readonly" if read_only else "")]
    for volume, target, read_only in volumes:
        spec = f"type=volume,source={volume},target={target},volume-nocopy=true"
        flags += ["--mount", spec + (",readonly" if read_only else "")]
    for key, value in {**dict(settings.labels), **labels, LABEL: "1"}.items():
        flags += ["--label", f"{key}={value}"]
    return flags


def _docker(
    *args: str, timeout: float | None = CLI_TIMEOUT_S, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ConfigError("the `docker` command is not installed on this machine") from None
    except subprocess.TimeoutExpired:
        if args[0] == "wait":
            raise  # wait_container's deadline, not a hung daemon
        raise InfraRetry(f"docker {args[0]} did not answer within {timeout} s") from None
    if check and result.returncode != 0:
        message = result.stderr.strip() or result.stdout.strip()
        if "Cannot connect to the Docker daemon" in message:
            raise InfraRetry(f"docker {args[0]}: daemon unreachable: {message}")
        raise InfraRetry(f"docker {' '.join(args[:2])} failed: {message[-2000:]}")
    return result


def daemon_runtimes() -> set[str]:
    """Runtimes the daemon knows; ConfigError when no daemon answers."""
    result = _docker("info", "--format", "{{json .Runtimes}}", check=False, timeout=20)
    if result.returncode != 0:
        raise ConfigError(f"no Docker daemon reachable: {result.stderr.strip()}")
    return set(json.loads(result.stdout or "{}"))


def daemon_default_runtime() -> str:
    """The runtime a container without `--runtime` gets (`runc` unless dockerd says else)."""
    result = _docker("info", "--format", "{{.DefaultRuntime}}", check=False, timeout=20)
    if result.returncode != 0:
        raise ConfigError(f"no Docker daemon reachable: {result.stderr.strip()}")
    return result.stdout.strip() or "runc"


def image_id(image: str) -> str:
    """The image's content digest (sha256:...); ConfigError if it was never built."""
    result = _docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
    if result.returncode != 0:
        raise ConfigError(
            f"sandbox image {image!r} not found; build it with scripts/build_sandbox_image.sh"
        )
    return result.stdout.strip()


def create_container(
    *, name: str, image: str, flags: Sequence[str], command: Sequence[str], entrypoint: str = ""
) -> None:
    extra = ["--entrypoint", entrypoint] if entrypoint else []
    _docker("create", "--name", name, *flags, *extra, image, *command)


def start_container(name: str) -> None:
    _docker("start", name)


def wait_container(name: str, *, timeout: float) -> int | None:
    """The exit code, or None if the container is still running after `timeout` seconds."""
    try:
        result = _docker("wait", name, timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        return None
    return int(result.stdout.strip().splitlines()[-1])


def stop_container(name: str, *, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after `grace_s` seconds."""
    _docker("stop", "--time", str(max(int(grace_s), 0)), name, check=False, timeout=grace_s + 60)


def container_state(name: str) -> dict[str, Any]:
    """docker inspect's State (ExitCode, OOMKilled, ...)."""
    result = _docker("inspect", "--format", "{{json .State}}", name)
    state: dict[str, Any] = json.loads(result.stdout)
    return state


def read_logs(name: str, *, max_chars: int) -> str:
    """The last `max_chars` characters of the container's stdout and stderr."""
    if max_chars <= 0:
        return ""
    result = _docker("logs", name, check=False)
    text = result.stdout + result.stderr
    return text[-max_chars:]


def remove_container(name: str) -> None:
    _docker("rm", "--force", "--volumes", name, check=False)


def create_output_volume(
    name: str, *, size: str, inodes: int, uid: int, gid: int, labels: Mapping[str, str]
) -> None:
    """A volume the daemon mounts as a size-capped tmpfs (nosuid, nodev, noexec).

    Its contents live while a container has it mounted, so the caller keeps one mounted
    (a holder) until it has copied the outputs out (`copy_out`).
    """
    options = f"size={size},nr_inodes={inodes},uid={uid},gid={gid},mode=0700,nosuid,nodev,noexec"
    label_flags = [f"--label={k}={v}" for k, v in {**labels, LABEL: "1"}.items()]
    _docker(
        "volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
        "--opt", f"o={options}", *label_flags, name,
    )  # fmt: skip


def remove_volume(name: str) -> None:
    _docker("volume", "rm", "--force", name, check=False)


def list_volumes(*, label: str = LABEL) -> list[dict[str, str]]:
    """Name and labels of every volume carrying `label` (as `list_containers`)."""
    result = _docker("volume", "ls", "--filter", f"label={label}", "--format", "{{json .}}")
    return [_named(json.loads(line), "Name") for line in result.stdout.splitlines()]


def wait_for_log_line(name: str, marker: str, *, timeout: float) -> bool:
    """Follow the container's log until a line starts with `marker`; False on timeout or exit.

    Only meaningful for lines written before any submission code runs in the container.
    """
    process = subprocess.Popen(
        ["docker", "logs", "--follow", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        return any(line.startswith(marker) for line in process.stdout)
    finally:
        timer.cancel()
        process.kill()
        process.communicate()  # reaps it and closes the pipe


@contextmanager
def copy_out(name: str, path: str) -> Iterator[IO[bytes]]:
    """A tar stream of `path` in container `name` (`docker cp NAME:PATH -`)."""
    process = subprocess.Popen(
        ["docker", "cp", f"{name}:{path}", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    timer = threading.Timer(COPY_TIMEOUT_S, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        yield process.stdout
    finally:
        timer.cancel()
        process.kill()
        _, error = process.communicate()
        if process.returncode not in (0, -9):
            raise InfraRetry(f"docker cp {name}:{path} failed: {error.decode(errors='replace')}")


def list_containers(*, label: str = LABEL) -> list[dict[str, str]]:
    """Name and labels of every container (running or not) carrying `label`."""
    result = _docker("ps", "--all", "--filter", f"label={label}", "--format", "{{json .}}")
    return [_named(json.loads(line), "Names") for line in result.stdout.splitlines()]


def _named(raw: dict[str, Any], key: str) -> dict[str, str]:
    labels = dict(item.split("=", 1) for item in raw.get("Labels", "").split(",") if "=" in item)
    return {"name": raw[key], **{f"label:{k}": v for k, v in labels.items()}}
