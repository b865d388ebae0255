"""The in-container runner: `python -m harness.runs.sandbox.runner /job /out [--standby SECONDS]`.

With `--standby` (every job container starts so, see `DockerRunner`), the container was
started before its job existed: the runner pays its imports and torch's lazy first-optimizer
import, prints `READY_LINE`, then waits for the job folder's ready file. The trusted side
hands the job over only after that line, and times the run from the hand-over to the
container's exit, so start-up is never charged to the submission and nothing the
submission does can shorten the figure. Then it reads
the job folder (`job.py`), imports the submission with `harness.runs.protocol`, and runs
`unlearning()` once per seed exactly as the in-process runner does (fresh copy of the
original weights, `make_loaders` for that seed, `run_once`). After each seed it writes
`/out/seed-<seed>.safetensors` and rewrites `/out/status.json`.

This code runs in the same process as the submission, so the submission can patch it: skip
seeds, reuse one result for every seed, forge the status file. None of that gains anything,
because nothing here is trusted. The caller outside decides which seeds succeeded from the
weight files it validates itself (a missing file is a failed seed), computes every metric
from those weights, and measures run time and enforces the time limit with the container's
wall clock, from outside. Weights
copied across seeds are accepted as what the submission produced; the scoring rule itself
punishes them (a deterministic unlearner gets epsilon = 50 on every example).

Exit status: 0 when the loop finished (some seeds may have failed, see status.json), 1 when
the submission could not be imported, 2 when the job folder is unusable, 3 when a standby
runner's job never arrived.

Scratch: the container's TMPDIR (a size-capped tmpfs at /tmp, gone with the container) is
emptied of what one seed wrote before the next seed runs, so a submission may write
checkpoints there but no seed can read another's.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import torch

from harness.checkpoint import save_weights
from harness.errors import BadOutput, SubmissionCrashed, SubmissionError
from harness.models import build_model
from harness.runs.protocol import (
    load_submission,
    make_loaders,
    run_once,
    submission_traceback,
    warm_up,
)
from harness.runs.sandbox.job import (
    READY_LINE,
    JobFiles,
    SeedStatus,
    read_job_folder,
    wait_until_ready,
    weights_file_name,
    write_status,
)

__all__ = ["main", "run_job"]

logger = logging.getLogger(__name__)


def _failed(error: SubmissionError) -> SeedStatus:
    return SeedStatus(
        ok=False, category=error.category, message=error.message, log_excerpt=error.log_excerpt
    )


def _run_seed(fn: object, files: JobFiles, seed: int, out: Path) -> SeedStatus:
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
    try:
        seconds = run_once(fn, net, loaders, seed=seed, submission_dir=files.submission_dir)  # type: ignore[arg-type]
    except SubmissionError as error:
        return _failed(error)
    except BaseException as exc:  # sys.exit() or KeyboardInterrupt raised by the submission
        return _failed(
            SubmissionCrashed(
                f"unlearning() raised {type(exc).__name__} (seed {seed}); it must return normally",
                log_excerpt=submission_traceback(exc, files.submission_dir),
            )
        )
    target = out / weights_file_name(seed)
    partial = out / (target.name + ".partial")
    try:
        save_weights(net, partial)
        # safetensors creates files 0600; the trusted side reading them may be another uid
        # (a compose worker runs as 10001, the sandbox as nobody).
        # A link left there by the submission is not followed: the collector refuses it.
        if not partial.is_symlink():
            partial.chmod(0o644)
        partial.replace(target)
    except (OSError, RuntimeError, ValueError) as exc:
        return _failed(BadOutput(f"could not save the weights of seed {seed}: {exc}"))
    return SeedStatus(ok=True, seconds=seconds)


def _wipe_new_entries(scratch: Path, kept: set[str]) -> None:
    """Delete what the last seed left in the scratch folder, so no seed reads another's."""
    for entry in scratch.iterdir():
        if entry.name in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def run_job(job_dir: Path, out: Path, *, scratch: Path | None = None) -> int:
    """Run every seed of the job in `job_dir`, writing results into `out`; the exit status.

    `scratch` (the container's size-capped TMPDIR): what a seed writes there is deleted
    before the next seed starts; what was there after the import stays.
    """
    files = read_job_folder(job_dir)
    torch.set_num_threads(files.config.threads)
    warm_up()
    statuses: dict[int, SeedStatus] = {}
    try:
        fn = load_submission(files.submission_dir)
    except SubmissionError as error:
        write_status(out, {seed: _failed(error) for seed in files.config.seeds})
        sys.stderr.write(f"runner: {error.message}\n")
        return 1
    kept = {entry.name for entry in scratch.iterdir()} if scratch is not None else set()
    for index, seed in enumerate(files.config.seeds):
        if scratch is not None and index > 0:
            _wipe_new_entries(scratch, kept)
        started = time.perf_counter()
        statuses[seed] = _run_seed(fn, files, seed, out)
        write_status(out, statuses)
        outcome = "ok" if statuses[seed].ok else statuses[seed].category
        _log(f"runner: seed {seed} {outcome} in {time.perf_counter() - started:.2f} s\n")
    return 0


def _log(line: str) -> None:
    """A progress line for the container log. The submission may have replaced or closed
    sys.stdout; that costs it the line, never its later seeds."""
    try:
        sys.stdout.write(line)
        sys.stdout.flush()
    except Exception:
        pass


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--standby"):
        sys.stderr.write(
            "usage: python -m harness.runs.sandbox.runner JOB_DIR OUT_DIR [--standby SECONDS]\n"
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
        return run_job(job_dir, out, scratch=scratch)
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
