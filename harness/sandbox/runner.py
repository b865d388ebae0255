"""The in-container runner: `python -m harness.sandbox.runner /job /out [--standby SECONDS]`.

With `--standby`, the container was started before its job existed (`DockerRunner.prestart`):
the runner pays its imports and torch's lazy first-optimizer import, then waits for the job
folder's ready file, so that start-up overlaps the caller's own preparation. Then it reads
the job folder (`job.py`), imports the submission with `harness.protocol`, and runs
`unlearning()` once per seed exactly as the in-process runner does (fresh copy of the
original weights, `make_loaders` for that seed, `run_once`). After each seed it writes
`/out/seed-<seed>.safetensors` and rewrites `/out/status.json`.

This code runs in the same process as the submission, so the submission can patch it: skip
seeds, reuse one result for every seed, forge the status file. None of that gains anything,
because nothing here is trusted. The caller outside decides which seeds succeeded from the
weight files it validates itself (a missing file is a failed seed), computes every metric
from those weights, and enforces the time limit with the container's wall clock. Weights
copied across seeds are accepted as what the submission produced; the scoring rule itself
punishes them (a deterministic unlearner gets epsilon = 50 on every example).

Exit status: 0 when the loop finished (some seeds may have failed, see status.json), 1 when
the submission could not be imported, 2 when the job folder is unusable, 3 when a standby
runner's job never arrived.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

import torch

from harness.checkpoint import save_weights
from harness.errors import BadOutput, SubmissionCrashed, SubmissionError
from harness.models import build_model
from harness.protocol import (
    load_submission,
    make_loaders,
    run_once,
    submission_traceback,
    warm_up,
)
from harness.sandbox.job import (
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
        partial.replace(target)
    except (OSError, RuntimeError, ValueError) as exc:
        return _failed(BadOutput(f"could not save the weights of seed {seed}: {exc}"))
    return SeedStatus(ok=True, seconds=seconds)


def run_job(job_dir: Path, out: Path) -> int:
    """Run every seed of the job in `job_dir`, writing results into `out`; the exit status."""
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
    for seed in files.config.seeds:
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
            "usage: python -m harness.sandbox.runner JOB_DIR OUT_DIR [--standby SECONDS]\n"
        )
        return 2
    job_dir, out = Path(argv[0]), Path(argv[1])
    if len(argv) == 4:
        warm_up()
        if not wait_until_ready(job_dir, timeout_s=float(argv[3])):
            sys.stderr.write(f"runner: no job arrived within {argv[3]} s of standby\n")
            return 3
    try:
        return run_job(job_dir, out)
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
