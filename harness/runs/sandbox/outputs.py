"""The trust boundary: what a finished container left, turned into one outcome per seed.

    copy_outputs(container, seeds=..., limit=...)   -> OutputFiles   (from the daemon's tmpfs)
    read_output_folder(folder, seeds=..., limit=...) -> OutputFiles  (a host folder: tests)
    collect_outputs(files, seeds=..., original=..., verdict=...) -> [RunOutcome]

Everything here reads what a hostile submission wrote, so everything that can go wrong is
the submission's fault: a file that is not a plain file, too large, not safetensors, weights
that do not match the architecture, a status file that is not what the runner writes (not
JSON, nested too deeply), or anything else raised while loading them, becomes `BadOutput`
saying what was wrong. Only failures of Docker itself (`InfraRetry`) escape as ours.

Run times never come from inside the container: `outside_seconds` splits the wall time the
trusted side measured, from handing the job over to the container's exit, equally between
the job's seeds. The runner's own claims (`claimed_seconds`) serve only the integrity tests'
control, which shows that a submission forging them would pass the gate otherwise.
"""

from __future__ import annotations

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
    parse_status,
    weights_file_name,
)

__all__ = [
    "OutputFiles",
    "Verdict",
    "claimed_seconds",
    "collect_outputs",
    "copy_outputs",
    "outside_seconds",
    "read_output_folder",
    "weights_limit",
]

OUT = "/out"
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


def _wanted(seeds: Sequence[int]) -> set[str]:
    return {weights_file_name(seed) for seed in seeds} | {STATUS_FILE}


def copy_outputs(container: str, *, seeds: Sequence[int], limit: int) -> OutputFiles:
    """The expected files of /out in `container` (or its holder), read from a tar stream.

    Only regular files of the expected names, each at most `limit` bytes, are read; links
    and other kinds are refused by name. Nothing is written to the host's disk.
    """
    wanted, files = _wanted(seeds), {}
    prefix = re.compile(r"^(\./)?out/")
    with dc.copy_out(container, OUT) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = prefix.sub("", member.name, count=1)
            if name not in wanted or name in files:
                continue
            files[name] = _member(tar, member, name, limit)
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
    for name in _wanted(seeds):
        if os.path.lexists(folder / name):
            try:
                files[name] = read_regular_file(folder / name, max_bytes=limit)
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


def outside_seconds(wall_s: float, n_seeds: int) -> list[float]:
    """Each seed's share of the container's measured wall time: equal, whatever the runner
    claims, so work moved between seeds or clocks frozen inside change nothing."""
    return [max(wall_s, 0.0) / n_seeds] * n_seeds


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
    if verdict.outside_timing:
        seconds = outside_seconds(verdict.wall_s, len(seeds))
    else:
        seconds = claimed_seconds(statuses, seeds)
    outcomes = []
    for seed, spent in zip(seeds, seconds, strict=True):
        try:
            if status_error is not None:
                raise BadOutput(f"seed {seed}: {status_error.message}")
            state = _weights(files, seed, original)
        except SubmissionError as error:
            outcomes.append(_failed(seed, error, verdict, spent))
            continue
        if state is None:
            missing = _explain_missing(seed, statuses.get(seed), verdict)
            outcomes.append(_failed(seed, missing, verdict, spent))
            continue
        outcomes.append(
            RunOutcome(seed=seed, state=state, seconds=spent, log_excerpt=verdict.log_tail)
        )
    return outcomes


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


def _failed(seed: int, error: SubmissionError, verdict: Verdict, seconds: float) -> RunOutcome:
    return RunOutcome(
        seed=seed, state=None, seconds=seconds, error=error, log_excerpt=verdict.log_tail
    )


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
