"""DockerRunner: run a `Job` in a locked-down container and keep only weights it can validate.

Steps of `run()`, all on the trusted side:
  1. prepare: write the job folder (`job.py`), mounted read-only at /job, and an empty
     size-capped output folder (a host tmpfs) mounted at /out;
  2. execute: `docker create` with every hardening flag (`docker_client.hardening_flags`),
     start, wait until the wall-clock deadline (start-up budget + per-seed limit x seeds),
     then stop (SIGTERM, SIGKILL after a grace) and read the exit state and a capped log;
  3. collect: for each expected seed, read `seed-<seed>.safetensors` without following links,
     bounded in size, safetensors only, validated against the original architecture; a seed
     without valid weights fails with the most specific error (timeout, out of memory, the
     runner's own wording of an exception, invalid output);
  4. clean up: remove the container, unmount and delete the job folder, always.

`prestart()` moves step 2's start ahead of the job: a standby container (same flags) starts in
the background and pays Python's and torch's imports while the caller prepares its data;
`run()` then writes the job folder into the mounted, empty /job, and the runner inside starts
on the folder's ready file. A standby that does not match the job (threads, GPU) or is too
old is removed, and run() starts a container as above.

Before the first job, `self_check()` runs a probe container with the same flags and refuses
to go on (ConfigError) unless confinement is in force. `reap_orphans()` removes containers
left behind by a worker that died (they carry the `unlearn.sandbox` label).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from harness.checkpoint import MAX_WEIGHTS_BYTES, load_weights, validate_state
from harness.errors import (
    BadOutput,
    ConfigError,
    InfraRetry,
    InvalidSubmission,
    OutOfMemory,
    SubmissionCrashed,
    SubmissionError,
    TimeLimitExceeded,
)
from harness.sandbox import docker_client as dc
from harness.sandbox.base import Job, Runner, RunOutcome, SeedProgress
from harness.sandbox.docker_client import SandboxSettings
from harness.sandbox.job import (
    JobConfig,
    SeedStatus,
    read_status,
    weights_file_name,
    write_job_folder,
)

__all__ = ["DockerRunner", "SandboxSettings", "reap_orphans", "write_job"]

logger = logging.getLogger(__name__)

# Under gVisor (ptrace platform) the pids limit counts the sandbox kernel's host threads:
# about 70 for a run without DataLoader workers, about 30 more per worker process.
RUNSC_PIDS_ADVISED = 1024

RUNNER_COMMAND = ("/job", "/out")
DEADLINE_FILE = "deadline"  # next to job/ and out/, host side only: the reaper reads it
STANDBY_MARGIN_S = 30.0  # a standby this close to giving up is not handed a job
PYTHON = "/opt/venv/bin/python"
OWNER = f"{socket.gethostname()}:{os.getpid()}"
# Categories the in-container status file may claim. Timeout and out-of-memory are decided
# from outside only, so a forged status cannot claim them.
CLAIMABLE = {
    "exception": SubmissionCrashed,
    "invalid_submission": InvalidSubmission,
    "invalid_output": BadOutput,
}


# Settings whose confinement a probe has verified in this process: one probe per settings.
_CHECKED: set[SandboxSettings] = set()


def _default_work_dir() -> Path:
    return Path(tempfile.gettempdir()) / "unlearn-sandbox"


def _weights_limit(original: dict[str, torch.Tensor]) -> int:
    """Largest acceptable weights file: the original's payload plus header room."""
    payload = sum(t.numel() * t.element_size() for t in original.values())
    return min(MAX_WEIGHTS_BYTES, int(payload * 1.05) + 64 * 1024 * len(original) + (1 << 20))


@dataclass(frozen=True)
class _Standby:
    """A started container waiting for its job folder (see `DockerRunner.prestart`)."""

    name: str
    root: Path
    threads: int
    gpu: str | None
    started: float  # time.monotonic()


class DockerRunner(Runner):
    """Runs jobs in the sandbox image under `settings`; see the module docstring."""

    name = "docker"

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        work_dir: Path | None = None,
        require_confinement: bool = True,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.work_dir = Path(work_dir) if work_dir else _default_work_dir()
        # False only for the attack suite's control run, which must show escapes.
        self.require_confinement = require_confinement
        self._image_id: str | None = None
        self._standby: _Standby | None = None
        self._standby_thread: threading.Thread | None = None
        self._close_at_exit = False

    # ---- facts and checks -------------------------------------------------------------

    def describe(self) -> dict[str, str]:
        return {
            "runner": self.name,
            "image": self.settings.image,
            "image_id": self.image_id(),
            "runtime": self.settings.runtime or "default",
            "network": self.settings.network,
            "memory": self.settings.memory or "unlimited",
            "cpus": str(self.settings.cpus),
            "pids_limit": str(self.settings.pids_limit),
            "gpu": self.settings.gpu or "none",
        }

    def image_id(self) -> str:
        if self._image_id is None:
            self._image_id = dc.image_id(self.settings.image)
        return self._image_id

    def self_check(self) -> dict[str, object]:
        """Run a probe container with the job flags; ConfigError unless confinement holds.

        Checks: only the loopback interface and no route; read-only root; non-root uid; no
        capabilities and no-new-privileges; a pids and a memory limit; no Docker socket; an
        environment holding only the runner's variables. Returns the probe's findings.
        """
        if self.settings.runtime and self.settings.runtime not in dc.daemon_runtimes():
            raise ConfigError(
                f"runtime {self.settings.runtime!r} is not registered with the Docker daemon; "
                "see scripts/start_docker.sh"
            )
        self.image_id()
        findings = self._probe()
        problems = confinement_problems(findings, self.settings)
        if problems:
            raise ConfigError(
                "sandbox confinement is not in force, refusing to run submissions: "
                + "; ".join(problems)
            )
        pids = self.settings.pids_limit
        if self.settings.runtime == "runsc" and pids is not None and pids < RUNSC_PIDS_ADVISED:
            logger.warning(
                "pids_limit %d under gVisor: each process in the sandbox costs about 30 host "
                "threads (a run with 4 DataLoader workers peaked at 204), and reaching the limit "
                "ends the whole sandbox; %d is advised",
                pids,
                RUNSC_PIDS_ADVISED,
            )
        _CHECKED.add(self.settings)
        return findings

    def _probe(self) -> dict[str, object]:
        name = f"unlearn-probe-{uuid.uuid4().hex[:12]}"
        root = self._make_root(name)
        try:
            (root / "job").mkdir(mode=0o755)
            source = (Path(__file__).with_name("probe.py")).read_text(encoding="utf-8")
            self._create(
                name,
                root,
                self.settings,
                threads=1,
                deadline_s=60,
                command=["-I", "-c", source],
                entrypoint=PYTHON,
            )
            dc.start_container(name)
            code = dc.wait_container(name, timeout=60)
            logs = dc.read_logs(name, max_chars=100_000)
            if code != 0:
                raise ConfigError(f"the sandbox probe failed (exit {code}): {logs[-2000:]}")
            findings: dict[str, object] = json.loads(logs.strip().splitlines()[-1])
            return findings
        finally:
            self._cleanup(name, root)

    # ---- standby containers -----------------------------------------------------------

    def prestart(self, *, threads: int = 1, device: str = "cpu") -> None:
        """Start the next job's container now, in the background (see the module docstring).

        Returns at once. Anything that goes wrong is logged and leaves run() to start its own
        container, with its own errors. At most one standby is kept; it is removed by
        `close()`, at interpreter exit, or by `reap_orphans()` once its owner is gone.
        """
        self._discard_standby()
        gpu = assigned_gpu(device, self.settings.gpu)
        self._standby_thread = threading.Thread(
            target=self._start_standby, args=(threads, gpu), name="sandbox-prestart", daemon=True
        )
        self._standby_thread.start()
        if not self._close_at_exit:
            atexit.register(self.close)
            self._close_at_exit = True

    def close(self) -> None:
        """Remove the standby container, if any."""
        self._discard_standby()

    def _start_standby(self, threads: int, gpu: str | None) -> None:
        name = f"unlearn-job-{uuid.uuid4().hex[:12]}"
        root: Path | None = None
        try:
            if self.require_confinement and self.settings not in _CHECKED:
                self.self_check()
            root = self._make_root(name)
            (root / "job").mkdir(mode=0o755)
            self._create(
                name,
                root,
                replace(self.settings, gpu=gpu),
                threads=threads,
                deadline_s=self.settings.standby_s,
                command=(*RUNNER_COMMAND, "--standby", str(self.settings.standby_s)),
            )
            dc.start_container(name)
        except Exception:  # the next run() starts its own container and reports properly
            logger.warning("sandbox prestart failed; the next run starts afresh", exc_info=True)
            if root is not None:
                self._cleanup(name, root)
            return
        self._standby = _Standby(name, root, threads, gpu, time.monotonic())

    def _take_standby(self, *, threads: int, gpu: str | None) -> _Standby | None:
        """The standby container if it can run this job now; else None (and it is removed)."""
        if self._standby_thread is not None:
            self._standby_thread.join()
            self._standby_thread = None
        standby, self._standby = self._standby, None
        if standby is None:
            return None
        age = time.monotonic() - standby.started
        usable = (
            standby.threads == threads
            and standby.gpu == gpu
            and age < self.settings.standby_s - STANDBY_MARGIN_S
        )
        try:
            usable = usable and bool(dc.container_state(standby.name).get("Running"))
        except InfraRetry:
            usable = False
        if not usable:
            self._cleanup(standby.name, standby.root)
            return None
        return standby

    def _discard_standby(self) -> None:
        if self._standby_thread is not None:
            self._standby_thread.join()
            self._standby_thread = None
        standby, self._standby = self._standby, None
        if standby is not None:
            self._cleanup(standby.name, standby.root)

    # ---- running a job ----------------------------------------------------------------

    def run(self, job: Job, *, on_seed_done: SeedProgress | None = None) -> list[RunOutcome]:
        seeds = tuple(int(seed) for seed in job.seeds)
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"job seeds must be distinct, got {list(seeds)}")
        settings = replace(self.settings, gpu=assigned_gpu(job.device, self.settings.gpu))
        standby = self._take_standby(threads=job.threads, gpu=settings.gpu)
        if standby is None and self.require_confinement and self.settings not in _CHECKED:
            self.self_check()
        per_seed_s = job.time_limit_s or self.settings.default_time_limit_s
        deadline_s = self.settings.startup_s + per_seed_s * len(seeds)
        name = standby.name if standby else f"unlearn-job-{uuid.uuid4().hex[:12]}"
        root = standby.root if standby else self._make_root(name)
        config = JobConfig(
            seeds=seeds,
            batch_size=job.batch_size,
            threads=job.threads,
            device="cuda" if job.device.startswith("cuda") else job.device,
        )
        try:
            if standby is None:
                write_job(root / "job", job, config)
                self._create(
                    name,
                    root,
                    settings,
                    threads=job.threads,
                    deadline_s=deadline_s,
                    command=RUNNER_COMMAND,
                )
            deadline = time.time() + deadline_s + self.settings.stop_grace_s
            (root / DEADLINE_FILE).write_text(str(int(deadline)), encoding="utf-8")
            started = time.monotonic()
            if standby is None:
                dc.start_container(name)
            else:
                write_job(root / "job", job, config)  # its ready file starts the runner
            exit_code = dc.wait_container(name, timeout=deadline_s)
            timed_out = exit_code is None
            if timed_out:
                dc.stop_container(name, grace_s=self.settings.stop_grace_s)
            wall_s = time.monotonic() - started
            state = dc.container_state(name)
            log_tail = dc.read_logs(name, max_chars=self.settings.log_excerpt_chars)
            verdict = _Verdict(
                exit_code=int(state.get("ExitCode", -1)),
                timed_out=timed_out,
                oom_killed=bool(state.get("OOMKilled", False)),
                wall_s=wall_s,
                deadline_s=deadline_s,
                per_seed_s=per_seed_s,
                memory=self.settings.memory,
                runtime=self.settings.runtime,
                startup_s=self.settings.startup_s,
                log_tail=log_tail,
            )
            outcomes = collect_outputs(
                root / "out", seeds=seeds, original=job.original, verdict=verdict
            )
        finally:
            self._cleanup(name, root)
        for outcome in outcomes:
            if outcome.ok and on_seed_done is not None:
                on_seed_done(outcome.seed)
        return outcomes

    # ---- job folders --------------------------------------------------------------------

    def _labels(self, name: str, root: Path, *, deadline_s: float) -> dict[str, str]:
        return {
            "unlearn.job": name,
            "unlearn.owner": OWNER,
            "unlearn.job_dir": str(root),
            "unlearn.deadline": str(int(time.time() + deadline_s + self.settings.stop_grace_s)),
        }

    def _create(
        self,
        name: str,
        root: Path,
        settings: SandboxSettings,
        *,
        threads: int,
        deadline_s: float,
        command: Sequence[str],
        entrypoint: str = "",
    ) -> None:
        """Create container `name` with every hardening flag: `root/job` mounted read-only at
        /job, the size-capped `root/out` writable at /out."""
        out = self._mount_output(root / "out")
        flags = dc.hardening_flags(
            settings,
            threads=threads,
            mounts=[(root / "job", "/job", True), (out, "/out", False)],
            labels=self._labels(name, root, deadline_s=deadline_s),
        )
        dc.create_container(
            name=name,
            image=self.settings.image,
            flags=flags,
            command=command,
            entrypoint=entrypoint,
        )

    def _make_root(self, name: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        root = self.work_dir / name
        root.mkdir(mode=0o700)
        return root

    def _mount_output(self, out: Path) -> Path:
        """An empty output folder the container's user may write, size-capped when possible."""
        out.mkdir(mode=0o700)
        uid, gid = _numeric_user(self.settings.user)
        mode = self.settings.output_mount
        if mode in ("tmpfs", "auto"):
            size = self.settings.output_size
            options = f"size={size},nr_inodes=1024,mode=0700,uid={uid},gid={gid}"
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev,noexec", "tmpfs", str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                return out
            if mode == "tmpfs":
                raise ConfigError(
                    f"cannot mount the size-capped output folder ({result.stderr.strip()}); "
                    "run the worker as root or set SandboxSettings(output_mount='directory')"
                )
        logger.warning("sandbox output folder %s is not size-capped (output_mount=%r)", out, mode)
        if os.geteuid() == 0:
            os.chown(out, uid, gid)
        else:
            out.chmod(0o777)  # the container's uid differs from ours
        return out

    def _cleanup(self, name: str, root: Path) -> None:
        dc.remove_container(name)
        remove_job_dir(root)


def write_job(folder: Path, job: Job, config: JobConfig) -> None:
    """`write_job_folder` for a `Job` (the folder the container mounts at /job)."""
    write_job_folder(
        folder,
        submission=job.submission,
        spec=job.spec,
        original=job.original,
        retain=job.retain,
        forget=job.forget,
        val=job.val,
        config=config,
    )


class _Verdict:
    """How the container ended, as seen from outside."""

    def __init__(
        self,
        *,
        exit_code: int,
        timed_out: bool,
        oom_killed: bool,
        wall_s: float,
        deadline_s: float,
        per_seed_s: float,
        memory: str | None,
        log_tail: str,
        runtime: str | None,
        startup_s: float,
    ) -> None:
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.oom_killed = oom_killed
        self.wall_s = wall_s
        self.deadline_s = deadline_s
        self.per_seed_s = per_seed_s
        self.memory = memory
        self.runtime = runtime
        self.startup_s = startup_s  # the start-up budget, which claims need not account for
        self.log_tail = log_tail


def collect_outputs(
    out: Path, *, seeds: Sequence[int], original: dict[str, torch.Tensor], verdict: _Verdict
) -> list[RunOutcome]:
    """One outcome per expected seed, decided from the weight files alone."""
    statuses = read_status(out, tuple(seeds))
    limit = _weights_limit(original)
    seconds = trusted_seconds(
        [statuses[s].seconds if s in statuses else None for s in seeds],
        wall_s=verdict.wall_s,
        startup_s=verdict.startup_s,
    )
    outcomes = []
    for seed, claimed in zip(seeds, seconds, strict=True):
        path = out / weights_file_name(seed)
        status = statuses.get(seed)
        if os.path.lexists(path):
            try:
                state = load_weights(path, max_bytes=limit)
                validate_state(state, original)
            except BadOutput as error:
                error = BadOutput(f"seed {seed}: {error.message}", log_excerpt=error.log_excerpt)
                outcomes.append(_failed(seed, error, verdict, claimed))
                continue
            outcomes.append(
                RunOutcome(seed=seed, state=state, seconds=claimed, log_excerpt=verdict.log_tail)
            )
        else:
            outcomes.append(
                _failed(seed, _explain_missing(seed, status, verdict), verdict, claimed)
            )
    return outcomes


def trusted_seconds(
    claims: Sequence[float | None], *, wall_s: float, startup_s: float
) -> list[float]:
    """Per-seed run times the efficiency gate can trust, from the runner's claims.

    Claims come from inside the container, so a submission can forge them (its status
    file, or the runner's clock). Each is clipped to [0, wall time]; a missing one counts
    as the whole wall time. Then, if together they leave more of the container's wall time
    unaccounted for than the start-up budget allows, they are scaled up until they do not:
    a forger gains at most `startup_s` per container, and an honest run, whose start-up
    and bookkeeping take far less than the budget, keeps its own figures.
    """
    clipped = [wall_s if c is None else min(max(c, 0.0), wall_s) for c in claims]
    owed = wall_s - startup_s
    total = sum(clipped)
    if not clipped or total >= owed:
        return clipped
    if total <= 0.0:
        return [owed / len(clipped)] * len(clipped)
    return [c * owed / total for c in clipped]


def _failed(seed: int, error: SubmissionError, verdict: _Verdict, seconds: float) -> RunOutcome:
    return RunOutcome(
        seed=seed, state=None, seconds=seconds, error=error, log_excerpt=verdict.log_tail
    )


def _explain_missing(seed: int, status: SeedStatus | None, verdict: _Verdict) -> SubmissionError:
    if verdict.timed_out:
        return TimeLimitExceeded(
            f"seed {seed}: the run was stopped at its time limit of {verdict.deadline_s:.0f} s "
            f"({verdict.per_seed_s:.0f} s per seed plus start-up) before it left weights"
        )
    if verdict.oom_killed:
        return OutOfMemory(
            f"seed {seed}: the run exceeded its memory limit ({verdict.memory}) and was killed"
        )
    if status is not None and not status.ok and status.category in CLAIMABLE:
        return CLAIMABLE[status.category](status.message, log_excerpt=status.log_excerpt)
    if status is not None and status.ok:
        return BadOutput(
            f"seed {seed}: the runner reported success but left no weights file "
            f"(was the runner altered?)"
        )
    message = (
        f"seed {seed}: the run ended (exit code {verdict.exit_code}) before this seed left "
        "weights; a submission must not exit the process, kill the runner, or skip seeds"
    )
    if verdict.runtime == "runsc":
        # gVisor's process limit counts its own kernel's host threads; reaching it ends the
        # whole sandbox (exit 2) instead of failing the fork() that went over.
        message += ", nor start more processes or threads than the sandbox's process limit"
    return SubmissionCrashed(message)


def assigned_gpu(device: str, configured: str | None) -> str | None:
    """The one GPU a job's container sees: the configured one, else the job's cuda index.

    "cpu" -> None; "cuda" -> "0"; "cuda:2" -> "2". Never all GPUs.
    """
    if not device.startswith("cuda"):
        return None
    if configured is not None:
        return configured
    index = device.partition(":")[2] or "0"
    if not index.isdigit():
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return index


def _numeric_user(user: str | None) -> tuple[int, int]:
    if not user:
        return 0, 0
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise ConfigError(f"SandboxSettings.user must be numeric 'uid:gid', got {user!r}") from None


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
        # gVisor enforces cgroup limits on the host side and shows none inside.
        if findings.get("pids_max") in (None, "max"):
            problems.append(f"no process limit (pids.max={findings.get('pids_max')})")
        if findings.get("memory_limited") is not True:
            problems.append("no memory limit")
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


def remove_job_dir(root: Path) -> None:
    """Unmount the output tmpfs if mounted, then delete the job folder."""
    out = root / "out"
    if os.path.ismount(out):
        subprocess.run(["umount", "--lazy", str(out)], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def reap_orphans(*, everything: bool = False) -> list[str]:
    """Remove sandbox containers left behind by a dead worker; return their names.

    A container is an orphan when its deadline has passed, or when the worker process that
    started it (label `unlearn.owner`, host:pid) is gone from this host. `everything=True`
    removes every sandbox container (a worker calling it at start-up owns none yet).
    """
    reaped = []
    now = time.time()
    host = socket.gethostname()
    for container in dc.list_containers():
        owner_host, _, owner_pid = container.get("label:unlearn.owner", ":").partition(":")
        job_dir = container.get("label:unlearn.job_dir")
        deadline = max(
            float(container.get("label:unlearn.deadline", "0") or 0),
            _deadline_file(Path(job_dir)) if job_dir else 0.0,
        )
        owner_gone = owner_host == host and owner_pid.isdigit() and not _pid_alive(int(owner_pid))
        if everything or owner_gone or deadline < now:
            dc.remove_container(container["name"])
            if job_dir and Path(job_dir).parent.name == "unlearn-sandbox":
                remove_job_dir(Path(job_dir))
            reaped.append(container["name"])
    if reaped:
        logger.warning("reaped %d orphaned sandbox containers: %s", len(reaped), reaped)
    return reaped


def _deadline_file(job_dir: Path) -> float:
    """The deadline run() wrote for the job a container was handed (0 if none)."""
    try:
        return float((job_dir / DEADLINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
