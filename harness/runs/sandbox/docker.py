"""DockerRunner: the lifecycle of a sandbox container, from start to removal.

Every job container starts before its job exists, as a standby (`prestart()` does it in the
background; `run()` does it itself when none is waiting):
  1. start: an output volume (a tmpfs the Docker daemon mounts, size- and file-capped), a
     holder container that keeps it mounted, and the job container with every hardening
     flag (`docker_client.hardening_flags`), its empty job folder mounted read-only at /job
     and the volume at /out; the runner inside pays its imports, then says it is ready;
  2. hand over: `run()` writes the job folder, waits for the ready line (no submission code
     has run in the container yet, so the line is trusted), starts its clock and marks the
     folder ready; the runner starts on that mark;
  3. wait until the deadline (start-up allowance + per-seed limit x seeds), then stop it
     (SIGTERM, SIGKILL after a grace). Inside, the runner runs each seed in its own process
     and times it (`runner`); its log lines give each seed's time, reconciled with the wall
     time from hand-over to exit measured here (`outputs.run_times`);
  4. collect: copy the expected files out of the volume through the holder and judge them
     (`outputs.collect_outputs`, the trust boundary);
  5. clean up: remove both containers, the volume and the job folder, always, also when
     the caller is interrupted (SIGINT, or SIGTERM turned into SystemExit by the CLI).

Before the first job, `self_check()` runs a probe container with the same flags
(`selfcheck.check_confinement`). `reap_orphans()` (module `reaper`) removes what a worker
that died left behind.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import ConfigError, InfraRetry
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.base import Job, Runner, RunOutcome, SeedProgress
from harness.runs.sandbox.docker_client import SandboxSettings
from harness.runs.sandbox.job import READY_LINE, JobConfig, mark_ready, write_job_folder
from harness.runs.sandbox.outputs import Verdict, collect_outputs, copy_outputs, weights_limit
from harness.runs.sandbox.reaper import (
    DEADLINE_FILE,
    OWNER,
    WORK_DIR_NAME,
    reap_orphans,
    remove_job_dir,
)
from harness.runs.sandbox.selfcheck import check_confinement, is_checked

__all__ = ["OWNER", "DockerRunner", "SandboxSettings", "assigned_gpu", "reap_orphans", "write_job"]

logger = logging.getLogger(__name__)

RUNNER_COMMAND = ("/job", "/out")
RUNNER_LOG_CHARS = 1_000_000  # the runner's lines; a shared-process run's output may be more
STANDBY_MARGIN_S = 30.0  # a standby this close to giving up is not handed a job
PYTHON = "/opt/venv/bin/python"


def _default_work_dir() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / WORK_DIR_NAME


@dataclass(frozen=True)
class _Container:
    """A started job container waiting for its job folder, with its output volume."""

    name: str
    root: Path
    threads: int
    gpu: str | None
    started: float  # time.monotonic()

    @property
    def holder(self) -> str:  # keeps the output volume mounted after the job container exits
        return f"{self.name}-out"

    @property
    def volume(self) -> str:
        return f"{self.name}-out"


class DockerRunner(Runner):
    """Runs jobs in the sandbox image under `settings`; see the module docstring."""

    name = "docker"

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        work_dir: Path | None = None,
        require_confinement: bool = True,
        outside_timing: bool = True,
        isolate_runs: bool = True,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.work_dir = Path(work_dir) if work_dir else _default_work_dir()
        # False only for the attack suite's control run, which must show escapes.
        self.require_confinement = require_confinement
        # False only for the integrity tests' control: run times as the runner claims them.
        self.outside_timing = outside_timing
        # False only for the control tests and the benchmark's baseline: every seed in one
        # process, as before per-run isolation.
        self.isolate_runs = isolate_runs
        self._image_id: str | None = None
        self._standby: _Container | None = None
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
            "cpus": str(self.settings.cpus or "threads"),
            "pids_limit": str(self.settings.pids_limit),
            "gpu": self.settings.gpu or "none",
            "timing": "outside" if self.outside_timing else "claimed",
            "isolation": "process per run" if self.isolate_runs else "shared process",
        }

    def image_id(self) -> str:
        if self._image_id is None:
            self._image_id = dc.image_id(self.settings.image)
        return self._image_id

    def self_check(self) -> dict[str, object]:
        """Run a probe container with the job flags; ConfigError unless confinement holds."""
        self.image_id()
        return check_confinement(self.settings, self._probe)

    def max_container_seconds(self, *, seeds: int, per_seed_s: float) -> float:
        """The longest one job can hold a container: ready wait, deadline, stop, copy."""
        deadline = self.settings.startup_s + per_seed_s * seeds
        copy = dc.COPY_TIMEOUT_S
        return self.settings.ready_timeout_s + deadline + self.settings.stop_grace_s + copy

    def _probe(self) -> dict[str, object]:
        name = f"unlearn-probe-{uuid.uuid4().hex[:12]}"
        root = self._make_root(name)
        try:
            (root / "job").mkdir(mode=0o755)
            source = (Path(__file__).with_name("probe.py")).read_text(encoding="utf-8")
            dc.create_container(
                name=name,
                image=self.settings.image,
                flags=self._flags(name, root, self.settings, threads=1, deadline_s=60),
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
            dc.remove_container(name)
            remove_job_dir(root)

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
        try:
            self._standby = self._start(threads=threads, gpu=gpu)
        except Exception:  # the next run() starts its own container and reports properly
            logger.warning("sandbox prestart failed; the next run starts afresh", exc_info=True)

    def _start(self, *, threads: int, gpu: str | None) -> _Container:
        """Start a job container in standby, with its output volume and holder."""
        if not _size_capped(self.settings.output_size) or self.settings.output_inodes <= 0:
            raise ConfigError(
                "the sandbox's output folder needs a size and a file cap (SandboxSettings."
                f"output_size={self.settings.output_size!r}, output_inodes="
                f"{self.settings.output_inodes}); refusing to run without them"
            )
        if self.require_confinement and not is_checked(self.settings):
            self.self_check()
        name = f"unlearn-job-{uuid.uuid4().hex[:12]}"
        root = self._make_root(name)
        container = _Container(name, root, threads, gpu, time.monotonic())
        settings = replace(self.settings, gpu=gpu)
        lifetime = self.settings.standby_s
        try:
            (root / "job").mkdir(mode=0o755)
            uid, gid = _numeric_user(self.settings.user)
            dc.create_output_volume(
                container.volume,
                size=self.settings.output_size,
                inodes=self.settings.output_inodes,
                uid=uid,
                gid=gid,
                labels=self._labels(name, root, deadline_s=lifetime),
            )
            holder = replace(self.settings, gpu=None, cpus=None, cpuset=None)
            dc.create_container(
                name=container.holder,
                image=self.settings.image,
                flags=self._flags(
                    name,
                    root,
                    holder,
                    threads=1,
                    deadline_s=lifetime,
                    volume=(container.volume, True),
                ),
                command=["infinity"],
                entrypoint="sleep",
            )
            dc.start_container(container.holder)
            dc.create_container(
                name=name,
                image=self.settings.image,
                flags=self._flags(
                    name,
                    root,
                    settings,
                    threads=threads,
                    deadline_s=lifetime,
                    volume=(container.volume, False),
                ),
                command=(
                    *RUNNER_COMMAND,
                    "--standby",
                    str(self.settings.standby_s),
                    "--contained" if self.isolate_runs else "--shared",
                ),
            )
            dc.start_container(name)
        except BaseException:
            self._cleanup(container)
            raise
        return container

    def _take_standby(self, *, threads: int, gpu: str | None) -> _Container | None:
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
            self._cleanup(standby)
            return None
        return standby

    def _discard_standby(self) -> None:
        if self._standby_thread is not None:
            self._standby_thread.join()
            self._standby_thread = None
        standby, self._standby = self._standby, None
        if standby is not None:
            self._cleanup(standby)

    # ---- running a job ----------------------------------------------------------------

    def run(self, job: Job, *, on_seed_done: SeedProgress | None = None) -> list[RunOutcome]:
        seeds = tuple(int(seed) for seed in job.seeds)
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"job seeds must be distinct, got {list(seeds)}")
        gpu = assigned_gpu(job.device, self.settings.gpu)
        per_seed_s = job.time_limit_s or self.settings.default_time_limit_s
        deadline_s = self.settings.startup_s + per_seed_s * len(seeds)
        config = JobConfig(
            seeds=seeds,
            batch_size=job.batch_size,
            threads=job.threads,
            device="cuda" if job.device.startswith("cuda") else job.device,
            interface=job.interface,
            time_limit_s=per_seed_s,
        )
        container = self._take_standby(threads=job.threads, gpu=gpu)
        try:
            if container is None:
                container = self._start(threads=job.threads, gpu=gpu)
            name, root = container.name, container.root
            write_job(root / "job", job, config, ready=False)
            self._wait_ready(container)
            deadline = time.time() + deadline_s + self.settings.stop_grace_s
            (root / DEADLINE_FILE).write_text(str(int(deadline)), encoding="utf-8")
            started = time.monotonic()
            mark_ready(root / "job")  # the hand-over: the runner starts, and so does the clock
            exit_code = dc.wait_container(name, timeout=deadline_s)
            wall_s = time.monotonic() - started
            timed_out = exit_code is None
            if timed_out:
                dc.stop_container(name, grace_s=self.settings.stop_grace_s)
            state = dc.container_state(name)
            log = dc.read_logs(name, max_chars=RUNNER_LOG_CHARS)
            verdict = Verdict(
                exit_code=int(state.get("ExitCode", -1)),
                timed_out=timed_out,
                oom_killed=bool(state.get("OOMKilled", False)),
                wall_s=wall_s,
                deadline_s=deadline_s,
                per_seed_s=per_seed_s,
                memory=self.settings.memory,
                runtime=self.settings.runtime,
                log_tail=log[-self.settings.log_excerpt_chars :]
                if self.settings.log_excerpt_chars > 0
                else "",
                outside_timing=self.outside_timing,
                runner_log=log,
                log_chars=self.settings.log_excerpt_chars,
            )
            files = copy_outputs(container.holder, seeds=seeds, limit=weights_limit(job.original))
            outcomes = collect_outputs(files, seeds=seeds, original=job.original, verdict=verdict)
        finally:
            if container is not None:
                self._cleanup(container)
        for outcome in outcomes:
            if outcome.ok and on_seed_done is not None:
                on_seed_done(outcome.seed)
        return outcomes

    def _wait_ready(self, container: _Container) -> None:
        """Until the runner said it is ready; InfraRetry if it never does (ours to fix)."""
        remaining = self.settings.ready_timeout_s - (time.monotonic() - container.started)
        if not dc.wait_for_log_line(container.name, READY_LINE, timeout=max(remaining, 1.0)):
            logs = dc.read_logs(container.name, max_chars=2000)
            raise InfraRetry(
                f"sandbox container {container.name} did not become ready within "
                f"{self.settings.ready_timeout_s:.0f} s: {logs}"
            )

    # ---- containers and folders ---------------------------------------------------------

    def _labels(self, name: str, root: Path, *, deadline_s: float) -> dict[str, str]:
        return {
            "unlearn.job": name,
            "unlearn.owner": OWNER,
            "unlearn.job_dir": str(root),
            "unlearn.deadline": str(int(time.time() + deadline_s + self.settings.stop_grace_s)),
        }

    def _flags(
        self,
        name: str,
        root: Path,
        settings: SandboxSettings,
        *,
        threads: int,
        deadline_s: float,
        volume: tuple[str, bool] | None = None,
    ) -> list[str]:
        """Every hardening flag: `root/job` read-only at /job, the output volume at /out."""
        return dc.hardening_flags(
            settings,
            threads=threads,
            mounts=[(root / "job", "/job", True)],
            volumes=[(volume[0], "/out", volume[1])] if volume else [],
            labels=self._labels(name, root, deadline_s=deadline_s),
        )

    def _make_root(self, name: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        root = self.work_dir / name
        root.mkdir(mode=0o700)
        return root

    def _cleanup(self, container: _Container) -> None:
        dc.remove_container(container.name)
        dc.remove_container(container.holder)
        dc.remove_volume(container.volume)
        remove_job_dir(container.root)


def write_job(folder: Path, job: Job, config: JobConfig, *, ready: bool = True) -> None:
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
        ready=ready,
        ids=job.ids,
        groups=job.groups,
    )


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


def _size_capped(size: str | None) -> bool:
    """Whether `size` is a positive tmpfs size ("64m", "1g", "1048576")."""
    return bool(size) and re.fullmatch(r"[1-9][0-9]*[kmgKMG]?", str(size)) is not None


def _numeric_user(user: str | None) -> tuple[int, int]:
    if not user:
        return 0, 0
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise ConfigError(f"SandboxSettings.user must be numeric 'uid:gid', got {user!r}") from None
