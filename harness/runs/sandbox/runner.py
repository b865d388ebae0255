"""The in-container runner: `python -m harness.runs.sandbox.runner /job /out [--standby S]`.

With `--standby` (every job container starts so, see `DockerRunner`), the container was
started before its job existed: the runner pays its imports and torch's lazy first-optimizer
import, prints `READY_LINE`, then waits for the job folder's ready file. The trusted side
hands the job over only after that line.

Each seed runs in its own process (`isolation.run_child`). This process is the fork server:
it reads the job folder once, never imports the submission, and makes itself non-dumpable,
so no child can ptrace it or open its descriptors or memory through /proc. In the container
it is pid 1 (no --init): a child cannot signal it, and every orphan is its to reap. For each
seed it forks a child that loads the submission fresh and runs that one seed; after the
child it kills every other process in the container (`kill(-1, SIGKILL)`) and empties every
writable place (/tmp, /dev/shm, /dev/mqueue, /out), so nothing of one run reaches the next:
no module global, no scratch file, no output (System V IPC is closed by sysctls, see
`docker_client.hardening_flags`). Each child's weights and captured output stay in memfds
only this process holds, and are written to /out after the last child is gone:

    /out/seed-<seed>.safetensors  the weights the seed's run sent
    /out/log-<seed>.txt           the tail of its stdout and stderr (and its traceback)
    /out/status.json              each run's own claims (error category, message)

Per seed it prints `runner: seed <seed> <outcome> in <seconds> s` on its own stdout, the
container log, which no child can write (their stdout and stderr are capture pipes): the
time from the child's ready byte (its model and loaders built, the submission not yet
imported) to its exit, on this process's clock; the fork, that set-up and the sweep after
the run are the harness's own, and not charged. The
trusted side reconciles these with the container's wall time it measured itself
(`outputs.run_seconds`). Outcome: `done`, `timeout` (killed at the job's per-seed limit),
`out_of_memory` (the cgroup's OOM killer struck), `oversized` (sent more than the cap).

`--contained` says this process is the container's runner, and enables the sweep of every
process; without it (tests run `run_job` on the host) only the child's process group is
killed. `--shared` runs every seed in this one process instead (the behaviour before per-run
isolation), for the control tests and the benchmark only.

Exit status: 0 when the loop finished (some seeds may have failed), 1 when the submission
fails the static contract check, 2 when the job folder is unusable, 3 when a standby runner's
job never arrived.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from harness.checkpoint import MAX_WEIGHTS_BYTES, state_to_bytes
from harness.data.batches import INTERFACES
from harness.errors import InvalidSubmission, SubmissionCrashed, SubmissionError
from harness.models import build_model
from harness.runs.protocol import (
    Loaders,
    check_source,
    load_submission,
    make_loaders,
    rehearse,
    run_once,
    submission_traceback,
    warm_up,
)
from harness.runs.sandbox.isolation import (
    ChildLimits,
    ChildResult,
    Claim,
    frozen_heap,
    make_non_dumpable,
    read_result,
    run_child,
)
from harness.runs.sandbox.job import (
    READY_LINE,
    JobFiles,
    SeedStatus,
    log_file_name,
    read_job_folder,
    wait_until_ready,
    weights_file_name,
    write_status,
)

__all__ = ["TIME_LINE", "main", "run_job"]

logger = logging.getLogger(__name__)

TIME_LINE = "runner: seed {seed} {outcome} in {seconds:.6f} s"
CAPTURE_BYTES = 64 * 1024
# Writable places besides /tmp and /out that a run could leave something in.
SHARED_PLACES = (Path("/dev/shm"), Path("/dev/mqueue"))
OOM_COUNTERS = (
    Path("/sys/fs/cgroup/memory.events"),
    Path("/sys/fs/cgroup/memory/memory.oom_control"),
)


def _failed(error: SubmissionError) -> SeedStatus:
    return SeedStatus(
        ok=False, category=error.category, message=error.message, log_excerpt=error.log_excerpt
    )


SeedInputs = tuple[torch.nn.Module, Loaders]
"""What a run is handed: a fresh model with the original weights on its device, its loaders."""


def _seed_inputs(files: JobFiles, seed: int) -> SeedInputs:
    net = build_model(files.spec)
    net.load_state_dict(files.original)
    net.to(files.config.device)
    loaders = make_loaders(
        retain=files.retain,
        forget=files.forget,
        val=files.val,
        seed=seed,
        batch_size=files.config.batch_size,
        interface=files.config.interface,
        ids=files.ids,
        groups=files.groups,
    )
    return net, loaders


def _run_seed(
    fn: object, files: JobFiles, seed: int, inputs: SeedInputs | None = None
) -> tuple[SeedStatus, bytes | None]:
    """One run of `fn` on a fresh model (`inputs`, else built here): its status and the
    weights as safetensors bytes."""
    net, loaders = inputs if inputs is not None else _seed_inputs(files, seed)
    try:
        seconds = run_once(fn, net, loaders, seed=seed, submission_dir=files.submission_dir)  # type: ignore[arg-type]
    except SubmissionError as error:
        return _failed(error), None
    except BaseException as exc:  # sys.exit() or KeyboardInterrupt raised by the submission
        return _failed(
            SubmissionCrashed(
                f"unlearning() raised {type(exc).__name__} (seed {seed}); it must return normally",
                log_excerpt=submission_traceback(exc, files.submission_dir),
            )
        ), None
    try:
        weights = state_to_bytes(net.state_dict())
    except (RuntimeError, ValueError) as exc:
        return _failed(SubmissionCrashed(f"could not save the weights of seed {seed}: {exc}")), None
    return SeedStatus(ok=True, seconds=seconds), weights


def _child_body(files: JobFiles, seed: int, inputs: SeedInputs) -> tuple[Claim, bytes | None]:
    """What a seed's child runs once its clock has started: load the submission fresh (its
    import is its own work), run the seed once on the prepared model and loaders."""
    try:
        fn = load_submission(
            files.submission_dir, filled=INTERFACES[files.config.interface].device_parameters
        )
    except SubmissionError as error:
        status, weights = _failed(error), None
    else:
        status, weights = _run_seed(fn, files, seed, inputs)
    if status.log_excerpt:  # the traceback joins the run's captured output
        sys.stderr.write(status.log_excerpt)
    return asdict(status), weights


def _prepare(files: JobFiles, seed: int) -> SeedInputs:
    """Set up the child before its clock starts (trusted code only, the same for every
    submission): the interface's scratch folders (/kaggle/... links to /tmp/kaggle in the
    image, emptied with /tmp after each run), the device, the seed's model and loaders, and
    a rehearsal of the steps around the call (`protocol.rehearse`)."""
    for folder in INTERFACES[files.config.interface].scratch_folders:
        with contextlib.suppress(OSError):  # no /kaggle link: the runner run on a host
            os.makedirs(os.path.realpath(folder), exist_ok=True)  # through the link
    if files.config.device.startswith("cuda"):
        torch.zeros(1, device=files.config.device)
    inputs = _seed_inputs(files, seed)
    rehearse(inputs[0], seed)
    return inputs


# ---- the sweep --------------------------------------------------------------------------


def _kill_all_others() -> None:
    """SIGKILL every process this one may signal (all of the container but pid 1 and us),
    and reap them, until none is left alive."""
    me = os.getpid()
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        _reap()
        if not _living_others(me):
            return
        time.sleep(0.001)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _living_others(me: int) -> list[int]:
    others = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, 1):
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[:1] != ["Z"]:
            others.append(int(entry))
    return others


def _empty(folder: Path, kept: frozenset[str] = frozenset()) -> None:
    """Delete everything in `folder` but `kept`; a run that made a folder unreadable to
    itself cannot keep it, since it is ours (same uid) to chmod back."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name in kept:
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, onerror=_make_removable)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    left = {e.name for e in os.scandir(folder)} - kept
    if left:
        raise OSError(f"could not empty {folder}: {sorted(left)[:5]}")


def _make_removable(
    function: object, path: str, excinfo: tuple[type, BaseException, object]
) -> None:
    if isinstance(excinfo[1], FileNotFoundError):
        return
    parent = os.path.dirname(path)
    os.chmod(parent, 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def _oom_kills() -> int | None:
    """The cgroup's OOM kill count (v2 memory.events or v1 memory.oom_control), if readable."""
    for counter in OOM_COUNTERS:
        with contextlib.suppress(OSError, ValueError):
            for line in counter.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    return None


# ---- the fork server --------------------------------------------------------------------


def run_job(
    job_dir: Path,
    out: Path,
    *,
    scratch: Path | None = None,
    contained: bool = False,
    shared: bool = False,
) -> int:
    """Run every seed of the job in `job_dir`, each in its own child; the exit status.

    `scratch` (the container's size-capped TMPDIR) and `out` are emptied after every run;
    `contained` also kills every other process and empties /dev/shm and /dev/mqueue.
    """
    files = read_job_folder(job_dir)
    torch.set_num_threads(files.config.threads)
    warm_up()
    if shared:
        return _run_shared(files, out, scratch)
    submission = files.submission_dir / "submission.py"
    try:
        if not submission.is_file():
            raise InvalidSubmission(f"submission file not found: {submission.name}")
        check_source(
            submission.read_text(encoding="utf-8", errors="replace"),
            filled=INTERFACES[files.config.interface].device_parameters,
        )
    except SubmissionError as error:
        write_status(out, {seed: _failed(error) for seed in files.config.seeds})
        sys.stderr.write(f"runner: {error.message}\n")
        return 1
    if contained:
        make_non_dumpable()
    places = [out] + ([scratch] if scratch is not None else [])
    if contained:
        places += [p for p in SHARED_PLACES if p.is_dir()]

    def sweep(pid: int) -> None:
        if contained:
            _kill_all_others()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for place in places:  # all of it: a folder kept would be a place to leave things in
            _empty(place)

    limits = ChildLimits(
        result_bytes=MAX_WEIGHTS_BYTES,
        capture_bytes=CAPTURE_BYTES,
        time_limit_s=files.config.time_limit_s,
        close_fds=contained,
    )
    results: dict[int, ChildResult] = {}
    try:
        with frozen_heap():
            for seed in files.config.seeds:
                results[seed] = _run_one(files, seed, limits, sweep)
        _write_outputs(out, results)
    finally:
        for result in results.values():
            result.close()
    return 0


def _run_one(
    files: JobFiles, seed: int, limits: ChildLimits, sweep: Callable[[int], None]
) -> ChildResult:
    """One seed in its own child; its time line on this process's stdout."""
    ooms = _oom_kills()
    result = run_child(
        functools.partial(_child_body, files, seed),
        limits=limits,
        sweep=sweep,
        prepare=functools.partial(_prepare, files, seed),
    )
    outcome = "done"
    if result.timed_out:
        outcome = "timeout"
    elif result.oversized:
        outcome = "oversized"
    elif ooms is not None and (_oom_kills() or 0) > ooms:
        outcome = "out_of_memory"
    _log(TIME_LINE.format(seed=seed, outcome=outcome, seconds=result.seconds) + "\n")
    return result


def _write_outputs(out: Path, results: dict[int, ChildResult]) -> None:
    """Write each run's weights, output and claim to `out`, once no run is left alive."""
    statuses = {}
    for seed, result in results.items():
        claim, offset, length = read_result(result)
        statuses[seed] = _status_from(claim)
        if statuses[seed].ok and length > 0 and not result.oversized:
            _copy_fd(result.result, offset, length, out / weights_file_name(seed))
        _copy_fd(result.output, 0, os.fstat(result.output).st_size, out / log_file_name(seed))
    write_status(out, statuses)


def _status_from(claim: Claim) -> SeedStatus:
    try:
        return SeedStatus(
            ok=bool(claim.get("ok", False)),
            seconds=float(claim.get("seconds", 0.0)),  # type: ignore[arg-type]
            category=str(claim.get("category", ""))[:64],
            message=str(claim.get("message", ""))[:2000],
            log_excerpt=str(claim.get("log_excerpt", ""))[-8000:],
        )
    except (TypeError, ValueError, OverflowError):
        return SeedStatus(ok=False, category="invalid_output", message="unreadable result")


def _copy_fd(source: int, offset: int, length: int, target: Path) -> None:
    """Copy `length` bytes of `source` from `offset` into a new file `target`, in the kernel."""
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        while length > 0:
            sent = os.sendfile(fd, source, offset, length)
            if sent == 0:
                break
            offset, length = offset + sent, length - sent
    finally:
        os.close(fd)
    partial.replace(target)


# ---- every seed in one process (the control, and the benchmark's baseline) --------------


def _run_shared(files: JobFiles, out: Path, scratch: Path | None) -> int:
    """The behaviour before per-run isolation: one import, every seed in this process."""
    try:
        fn = load_submission(
            files.submission_dir, filled=INTERFACES[files.config.interface].device_parameters
        )
    except SubmissionError as error:
        write_status(out, {seed: _failed(error) for seed in files.config.seeds})
        sys.stderr.write(f"runner: {error.message}\n")
        return 1
    kept = frozenset(e.name for e in os.scandir(scratch)) if scratch is not None else frozenset()
    statuses: dict[int, SeedStatus] = {}
    for index, seed in enumerate(files.config.seeds):
        if scratch is not None and index > 0:
            _empty(scratch, kept)
        started = time.perf_counter()
        statuses[seed], weights = _run_seed(fn, files, seed)
        if weights is not None:
            (out / weights_file_name(seed)).write_bytes(weights)
        write_status(out, statuses)
        outcome = "ok" if statuses[seed].ok else statuses[seed].category
        _log(f"runner: shared seed {seed} {outcome} in {time.perf_counter() - started:.2f} s\n")
    return 0


def _log(line: str) -> None:
    """A line for the container log (the submission may have broken sys.stdout in the
    shared mode; that costs it the line, never its later seeds)."""
    try:
        sys.stdout.write(line)
        sys.stdout.flush()
    except Exception:
        pass


def main(argv: list[str]) -> int:
    flags = {arg for arg in argv if arg in ("--contained", "--shared")}
    argv = [arg for arg in argv if arg not in flags]
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--standby"):
        sys.stderr.write(
            "usage: python -m harness.runs.sandbox.runner JOB_DIR OUT_DIR [--standby SECONDS]"
            " [--contained] [--shared]\n"
        )
        return 2
    job_dir, out = Path(argv[0]), Path(argv[1])
    if len(argv) == 4:
        warm_up()
        # Read by the trusted side (`docker_client.wait_for_log_line`): no submission code
        # exists in this container yet, so the line is ours. The run's clock starts after it.
        _log(READY_LINE + "\n")
        if not wait_until_ready(job_dir, timeout_s=float(argv[3])):
            sys.stderr.write(f"runner: no job arrived within {argv[3]} s of standby\n")
            return 3
    tmpdir = os.environ.get("TMPDIR")
    scratch = Path(tmpdir) if tmpdir and Path(tmpdir).is_dir() else None
    try:
        return run_job(
            job_dir,
            out,
            scratch=scratch,
            contained="--contained" in flags,
            shared="--shared" in flags,
        )
    except (OSError, KeyError, ValueError, SubmissionError) as exc:
        # The job folder is ours, so this is an infrastructure problem, not the submission's.
        traceback.print_exc()
        sys.stderr.write(f"runner: unusable job folder: {exc}\n")
        return 2


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, which takes about a second once torch is
    loaded; every result is already on disk (closed files, atomic renames)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the submission may have replaced the stream; nothing to save
            pass
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main(sys.argv[1:]))
