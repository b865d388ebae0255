"""The trust boundary: what a finished container left, turned into one outcome per seed.

    copy_outputs(container, seeds=..., limit=...)   -> OutputFiles   (from the daemon's tmpfs)
    read_output_folder(folder, seeds=..., limit=...) -> OutputFiles  (a host folder: tests)
    run_times(runner_log, seeds=..., wall_s=...)     -> {seed: RunTime}
    collect_outputs(files, seeds=..., original=..., verdict=...) -> [RunOutcome]

Everything in /out is read as hostile: a file that is not a plain file, too large, not
safetensors, weights that do not match the architecture, a status file that is not what the
runner writes (not JSON, nested too deeply), or anything else raised while loading them,
becomes `BadOutput` saying what was wrong. Only failures of Docker itself (`InfraRetry`)
escape as ours. The copy reads only the expected names, and stops once it has them or once
it has read as many bytes as they may hold in all (a sparse multi-TiB file cannot stall it).

Run times come from the runner's own log lines (`runner.TIME_LINE`): the runner is the fork
server no run can reach, and its log is a channel no run can write. `run_times` reconciles
them with the wall time the trusted side measured from the hand-over to the container's
exit: together they may not exceed it (scaled down if they do), and a seed without a line
gets an equal share of what is left, as every seed did before runs were isolated. The
status file's claimed times (`claimed_seconds`) serve only the integrity tests' control.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load

from harness.checkpoint import MAX_WEIGHTS_BYTES, read_regular_file, validate_state
from harness.errors import (
    BadOutput,
    InvalidSubmission,
    OutOfMemory,
    SubmissionCrashed,
    SubmissionError,
    TimeLimitExceeded,
)
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.base import RunOutcome
from harness.runs.sandbox.job import (
    STATUS_FILE,
    SeedStatus,
    StatusUnreadable,
    log_file_name,
    parse_status,
    weights_file_name,
)

__all__ = [
    "OutputFiles",
    "RunTime",
    "Verdict",
    "claimed_seconds",
    "collect_outputs",
    "copy_outputs",
    "outside_seconds",
    "read_output_folder",
    "run_times",
    "weights_limit",
]

logger = logging.getLogger(__name__)

OUT = "/out"
LOG_LIMIT = 128 * 1024  # a run's captured output (the runner keeps 64 KiB)
TAR_SLACK = 64 * 1024  # headers and padding per member, and the folder's own entry
_TIME_LINE = re.compile(r"^runner: seed (-?\d+) (\w+) in ([0-9]+(?:\.[0-9]+)?) s$", re.M)
# Categories the in-container status file may claim. Timeout and out-of-memory are decided
# from outside only, so a forged status cannot claim them.
CLAIMABLE = {
    "exception": SubmissionCrashed,
    "invalid_submission": InvalidSubmission,
    "invalid_output": BadOutput,
}

OutputFiles = dict[str, bytes | BadOutput]
"""File name -> its bytes, or why it was refused; names absent were not left."""


def weights_limit(original: dict[str, torch.Tensor]) -> int:
    """Largest acceptable weights file: the original's payload plus header room."""
    payload = sum(t.numel() * t.element_size() for t in original.values())
    return min(MAX_WEIGHTS_BYTES, int(payload * 1.05) + 64 * 1024 * len(original) + (1 << 20))


def _wanted(seeds: Sequence[int], limit: int) -> dict[str, int]:
    """Each expected name with its byte cap."""
    wanted = {weights_file_name(seed): limit for seed in seeds}
    wanted |= {log_file_name(seed): LOG_LIMIT for seed in seeds}
    return wanted | {STATUS_FILE: LOG_LIMIT * 4}


def copy_outputs(container: str, *, seeds: Sequence[int], limit: int) -> OutputFiles:
    """The expected files of /out in `container` (or its holder), read from a tar stream.

    Only regular files of the expected names, each under its cap, are read; links and other
    kinds are refused by name. The stream is left as soon as every expected name was seen,
    or before a member would take the bytes read past what all expected files may hold:
    anything else in the folder costs at most that. Nothing is written to the host's disk.
    """
    wanted, files = _wanted(seeds, limit), {}
    budget = sum(wanted.values()) + TAR_SLACK * (len(wanted) + 1)
    prefix = re.compile(r"^(\./)?out/")
    with dc.copy_out(container, OUT) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = prefix.sub("", member.name, count=1)
            if name in wanted and name not in files:
                files[name] = _member(tar, member, name, wanted[name])  # reads within its cap
            if len(files) == len(wanted):
                break
            budget -= TAR_SLACK if member.isdir() else member.size + 512
            if budget < 0:  # skipping on would read the rest of this member
                logger.warning("%s: /out holds more than its expected files; copy cut", container)
                cut = BadOutput(
                    f"the output folder holds more than its expected files ({member.name}: "
                    f"{member.size} bytes); the copy stopped before reading them all"
                )
                files |= {
                    weights_file_name(seed): cut
                    for seed in seeds
                    if weights_file_name(seed) not in files
                }
                break
    return files


def _member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, limit: int
) -> bytes | BadOutput:
    if member.islnk():
        return BadOutput(f"{name}: is a hard link; write a fresh file instead")
    if not member.isreg():
        return BadOutput(f"{name}: cannot be read as a plain file (it is a link or a device)")
    if member.size > limit:
        return BadOutput(f"{name}: {member.size} bytes exceeds the limit of {limit}")
    handle = tar.extractfile(member)
    return handle.read() if handle is not None else BadOutput(f"{name}: unreadable")


def read_output_folder(folder: Path, *, seeds: Sequence[int], limit: int) -> OutputFiles:
    """The same as `copy_outputs` for a host folder (the runner run in process, in tests)."""
    files: OutputFiles = {}
    for name, cap in _wanted(seeds, limit).items():
        if os.path.lexists(folder / name):
            try:
                files[name] = read_regular_file(folder / name, max_bytes=cap)
            except BadOutput as error:
                files[name] = error
    return files


@dataclass(frozen=True)
class Verdict:
    """How the container ended, as seen from outside."""

    exit_code: int
    timed_out: bool
    oom_killed: bool
    wall_s: float  # from handing the job over to the container's exit, trusted clock
    deadline_s: float
    per_seed_s: float
    memory: str | None
    runtime: str | None
    log_tail: str
    outside_timing: bool = True  # False only for the integrity tests' control
    runner_log: str = ""  # the container's whole log: the runner's time lines
    log_chars: int = 4000  # of a run's captured output shown with its outcome; 0 hides it


@dataclass(frozen=True)
class RunTime:
    """One seed's run time, and how the runner saw the run end."""

    seconds: float
    outcome: str  # "done", "timeout", "out_of_memory", "oversized"; "" when not reported


def outside_seconds(wall_s: float, n_seeds: int) -> list[float]:
    """Each seed's equal share of the container's measured wall time (seeds the runner did
    not time: a run that ended the container, or every seed run in one process)."""
    return [max(wall_s, 0.0) / n_seeds] * n_seeds if n_seeds else []


def run_times(runner_log: str, *, seeds: Sequence[int], wall_s: float) -> dict[int, RunTime]:
    """Each seed's time from the runner's lines, reconciled with the outside wall time."""
    reported: dict[int, RunTime] = {}
    for seed, outcome, seconds in _TIME_LINE.findall(runner_log):
        if int(seed) in seeds and int(seed) not in reported:
            reported[int(seed)] = RunTime(float(seconds), outcome)
    wall_s = max(wall_s, 0.0)
    total = sum(run.seconds for run in reported.values())
    if total > wall_s:  # the runner's clock ran faster than ours: ours bounds it
        logger.warning("runner times add up to %.3f s, over the %.3f s measured", total, wall_s)
        reported = {s: RunTime(r.seconds * wall_s / total, r.outcome) for s, r in reported.items()}
        total = wall_s
    missing = [seed for seed in seeds if seed not in reported]
    for seed, share in zip(missing, outside_seconds(wall_s - total, len(missing)), strict=True):
        reported[seed] = RunTime(share, "")
    return reported


def claimed_seconds(statuses: dict[int, SeedStatus], seeds: Sequence[int]) -> list[float]:
    """The runner's own claims (forgeable): the integrity tests' control only."""
    return [max(statuses[s].seconds, 0.0) if s in statuses else 0.0 for s in seeds]


def collect_outputs(
    files: OutputFiles,
    *,
    seeds: Sequence[int],
    original: dict[str, torch.Tensor],
    verdict: Verdict,
) -> list[RunOutcome]:
    """One outcome per expected seed, decided from the weight files alone."""
    status_error: BadOutput | None = None
    statuses: dict[int, SeedStatus] = {}
    status = files.get(STATUS_FILE)
    try:
        if isinstance(status, BadOutput):
            raise StatusUnreadable(status.message)
        statuses = parse_status(status, tuple(seeds))
    except StatusUnreadable as error:
        status_error = error
    times = run_times(verdict.runner_log, seeds=seeds, wall_s=verdict.wall_s)
    seconds = [times[seed].seconds for seed in seeds]
    if not verdict.outside_timing:
        seconds = claimed_seconds(statuses, seeds)
    outcomes = []
    for seed, spent in zip(seeds, seconds, strict=True):
        log = _log_excerpt(files, seed, verdict)
        try:
            if status_error is not None:
                raise BadOutput(f"seed {seed}: {status_error.message}")
            _runner_verdict(seed, times[seed], verdict)
            state = _weights(files, seed, original)
        except SubmissionError as error:
            outcomes.append(_failed(seed, error, log, spent))
            continue
        if state is None:
            missing = _explain_missing(seed, statuses.get(seed), verdict)
            outcomes.append(_failed(seed, missing, log, spent))
            continue
        outcomes.append(RunOutcome(seed=seed, state=state, seconds=spent, log_excerpt=log))
    return outcomes


def _log_excerpt(files: OutputFiles, seed: int, verdict: Verdict) -> str:
    """The run's own captured output; the container's log where the runner left none."""
    data = files.get(log_file_name(seed))
    if isinstance(data, bytes):
        text = data.decode("utf-8", errors="replace")
        return text[-verdict.log_chars :] if verdict.log_chars > 0 else ""
    return verdict.log_tail


def _runner_verdict(seed: int, run: RunTime, verdict: Verdict) -> None:
    """Raise what the runner saw end the run, when it was not the run's own doing."""
    if run.outcome == "timeout":
        raise TimeLimitExceeded(
            f"seed {seed}: the run was stopped at its time limit of {verdict.per_seed_s:.0f} s"
        )
    if run.outcome == "out_of_memory":
        raise OutOfMemory(
            f"seed {seed}: the run exceeded its memory limit ({verdict.memory}) and was killed"
        )
    if run.outcome == "oversized":
        raise BadOutput(f"seed {seed}: the run sent more weights than the model can hold")


def _weights(
    files: OutputFiles, seed: int, original: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor] | None:
    """The seed's validated weights, None when it left none; BadOutput for anything wrong."""
    data = files.get(weights_file_name(seed))
    if data is None:
        return None
    if isinstance(data, BadOutput):
        raise BadOutput(f"seed {seed}: {data.message}")
    try:
        state = load(data)
    except MemoryError:
        raise
    except Exception as exc:  # the safetensors parser on hostile bytes: any error is theirs
        raise BadOutput(
            f"seed {seed}: {weights_file_name(seed)}: not a valid safetensors file ({exc}); "
            "weights must be written by the harness runner, never with pickle/torch.save"
        ) from None
    try:
        validate_state(state, original)
    except BadOutput as error:
        raise BadOutput(f"seed {seed}: {error.message}") from None
    except Exception as exc:  # a tensor the checks themselves cannot handle
        raise BadOutput(f"seed {seed}: weights could not be checked ({exc})") from None
    return state


def _failed(seed: int, error: SubmissionError, log: str, seconds: float) -> RunOutcome:
    return RunOutcome(seed=seed, state=None, seconds=seconds, error=error, log_excerpt=log)


def _explain_missing(seed: int, status: SeedStatus | None, verdict: Verdict) -> SubmissionError:
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
