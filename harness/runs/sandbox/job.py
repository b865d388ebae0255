"""The job folder: the one format both sides of the sandbox read and write.

The trusted side (`docker.DockerRunner`) writes a job folder and mounts it read-only at
`/job`; the runner inside the container (`runner.py`) reads it and writes its results into
the writable, size-capped output folder mounted at `/out`. The same functions serve both
sides, so the format cannot drift between them.

    /job/config.json            {"format": 1, "seeds": [...], "batch_size", "threads", "device",
                                 "interface", "time_limit_s"}
    /job/model.json             ModelSpec.to_json() of the original model
    /job/original.safetensors   the original weights
    /job/data.safetensors       retain/forget/val inputs, targets, example ids and group ids
                                (never the test split)
    /job/submission/            submission.py and any helper modules next to it
    /job/ready                  written last: the folder is complete (a standby runner waits
                                for it, see `wait_until_ready`)

    /out/seed-<seed>.safetensors  one file per seed that finished
    /out/log-<seed>.txt           the tail of that run's stdout and stderr
    /out/status.json              per-seed claims of the runner: error messages (its run
                                  times are kept for the timing control only)

Nothing in `/out` is trusted: the caller copies it out (`outputs.copy_outputs`), validates
every weight file itself, and reads the status file only to word an error for a seed that
left no valid weights. Run times come from the runner's log, the one channel no run can
write, reconciled with the wall time measured outside (`outputs.run_seconds`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from harness.errors import BadOutput, ConfigError
from harness.models import ModelSpec

__all__ = [
    "FORMAT_VERSION",
    "JobConfig",
    "JobFiles",
    "StatusUnreadable",
    "READY_FILE",
    "READY_LINE",
    "STATUS_FILE",
    "SUBMISSION_FOLDER",
    "SeedStatus",
    "mark_ready",
    "parse_status",
    "read_job_folder",
    "wait_until_ready",
    "weights_file_name",
    "write_job_folder",
    "write_status",
    "log_file_name",
]

FORMAT_VERSION = 1
SUBMISSION_FOLDER = "submission"
STATUS_FILE = "status.json"
READY_FILE = "ready"
READY_LINE = "runner: standby ready"  # the runner's log line once its imports are done
MAX_STATUS_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 2000
MAX_EXCERPT_CHARS = 8000
SPLITS = ("retain", "forget", "val")


@dataclass(frozen=True)
class JobConfig:
    """What the runner needs besides tensors: which seeds, and how to run them."""

    seeds: tuple[int, ...]
    batch_size: int = 64
    threads: int = 1
    device: str = "cpu"
    interface: str = "tuple"
    time_limit_s: float | None = None  # per seed, from the child's start; the runner kills it


Triple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class JobFiles:
    """A job folder read back into memory (inside the container)."""

    config: JobConfig
    spec: ModelSpec
    original: dict[str, torch.Tensor]
    retain: tuple[torch.Tensor, torch.Tensor]
    forget: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    submission_dir: Path
    ids: Triple | None = None  # per split: the examples' indices in the data set
    groups: Triple | None = None  # per split: group ids, when the data set has them


@dataclass(frozen=True)
class SeedStatus:
    """The runner's claim about one seed: wording for errors, and a run time to be checked."""

    ok: bool
    seconds: float = 0.0
    category: str = ""
    message: str = ""
    log_excerpt: str = ""


def weights_file_name(seed: int) -> str:
    return f"seed-{int(seed)}.safetensors"


def log_file_name(seed: int) -> str:
    """The tail of one run's stdout and stderr, written by the runner."""
    return f"log-{int(seed)}.txt"


def write_job_folder(
    folder: Path,
    *,
    submission: Path,
    spec: ModelSpec,
    original: dict[str, torch.Tensor],
    retain: tuple[torch.Tensor, torch.Tensor],
    forget: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    config: JobConfig,
    ready: bool = True,
    ids: Triple | None = None,
    groups: Triple | None = None,
) -> None:
    """Write everything a run may see into `folder`, then mark it ready (`mark_ready`).

    `folder` must not exist yet, or be empty: a standby container has it mounted already.
    `ready=False` leaves the hand-over to the caller, who times the run from it.
    """
    folder.mkdir(mode=0o755, exist_ok=True)
    if any(folder.iterdir()):
        raise ConfigError(f"job folder {folder} is not empty")
    target = folder / SUBMISSION_FOLDER
    submission = Path(submission)
    if submission.is_dir():
        # symlinks=True copies links as links: their targets are never read on the host.
        shutil.copytree(submission, target, symlinks=True)
    elif submission.is_file():
        target.mkdir(mode=0o755)
        shutil.copyfile(submission, target / "submission.py")
    else:
        raise ConfigError(f"submission not found: {submission}")
    (folder / "model.json").write_text(spec.to_json(), encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps({"format": FORMAT_VERSION, **asdict(config)}), encoding="utf-8"
    )
    save_file(
        {name: t.detach().to("cpu").contiguous() for name, t in original.items()},
        str(folder / "original.safetensors"),
    )
    tensors = {}
    for split, (inputs, targets) in zip(SPLITS, (retain, forget, val), strict=True):
        tensors[f"{split}_inputs"] = inputs.detach().to("cpu").contiguous()
        tensors[f"{split}_targets"] = targets.detach().to("cpu").contiguous()
    for name, triple in (("ids", ids), ("groups", groups)):
        if triple is not None:
            for split, values in zip(SPLITS, triple, strict=True):
                tensors[f"{split}_{name}"] = values.detach().to("cpu").contiguous()
    save_file(tensors, str(folder / "data.safetensors"))
    # World-readable: the container runs as an unprivileged uid that owns none of it.
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    if ready:
        mark_ready(folder)


def mark_ready(folder: Path) -> None:
    """Hand a written job folder to its runner (atomically: it sees every file complete)."""
    partial = folder / (READY_FILE + ".partial")
    partial.write_text("1", encoding="utf-8")
    partial.chmod(0o644)
    partial.replace(folder / READY_FILE)


def wait_until_ready(folder: Path, *, timeout_s: float, poll_s: float = 0.01) -> bool:
    """Wait until `folder` holds a complete job (its ready file); False after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (folder / READY_FILE).exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True


def read_job_folder(folder: Path) -> JobFiles:
    """Read a job folder written by `write_job_folder`."""
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if raw.get("format") != FORMAT_VERSION:
        raise ConfigError(f"job folder format {raw.get('format')!r}, expected {FORMAT_VERSION}")
    config = JobConfig(
        seeds=tuple(int(s) for s in raw["seeds"]),
        batch_size=int(raw["batch_size"]),
        threads=int(raw["threads"]),
        device=str(raw["device"]),
        interface=str(raw.get("interface", "tuple")),
        time_limit_s=float(raw["time_limit_s"]) if raw.get("time_limit_s") else None,
    )
    data = load_file(str(folder / "data.safetensors"))
    retain, forget, val = ((data[f"{split}_inputs"], data[f"{split}_targets"]) for split in SPLITS)

    def triple(name: str) -> Triple | None:
        if f"retain_{name}" not in data:
            return None
        return data[f"retain_{name}"], data[f"forget_{name}"], data[f"val_{name}"]

    return JobFiles(
        config=config,
        spec=ModelSpec.from_json((folder / "model.json").read_text(encoding="utf-8")),
        original=load_file(str(folder / "original.safetensors")),
        retain=retain,
        forget=forget,
        val=val,
        submission_dir=folder / SUBMISSION_FOLDER,
        ids=triple("ids"),
        groups=triple("groups"),
    )


def write_status(out: Path, statuses: dict[int, SeedStatus]) -> None:
    """Write the runner's per-seed claims (replacing the file atomically)."""
    payload = {str(seed): asdict(status) for seed, status in statuses.items()}
    partial = out / (STATUS_FILE + ".partial")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    partial.replace(out / STATUS_FILE)


class StatusUnreadable(BadOutput):
    """The status file exists but is not what the runner writes: the submission altered it."""


def parse_status(data: bytes | None, seeds: tuple[int, ...]) -> dict[int, SeedStatus]:
    """The runner's claims for `seeds`, from the status file's bytes (None: no file).

    The file was written inside the sandbox, so a submission may have forged it. Only known
    fields of expected seeds are kept, with text truncated; callers use it to word errors,
    never to decide success. A file the runner cannot have written (not JSON, nested past
    any depth it writes, not an object) raises StatusUnreadable, the submission's fault.
    """
    if data is None:
        return {}
    if len(data) > MAX_STATUS_BYTES:
        raise StatusUnreadable(f"{STATUS_FILE}: {len(data)} bytes exceeds {MAX_STATUS_BYTES}")
    try:
        raw = json.loads(data)
    except RecursionError:
        raise StatusUnreadable(
            f"{STATUS_FILE} is nested too deeply to read; the runner's files must not be altered"
        ) from None
    except ValueError as exc:
        raise StatusUnreadable(f"{STATUS_FILE} is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise StatusUnreadable(f"{STATUS_FILE} holds a {type(raw).__name__}, not an object")
    statuses = {}
    for seed in seeds:
        entry = raw.get(str(seed))
        if not isinstance(entry, dict):
            continue
        try:
            statuses[seed] = SeedStatus(
                ok=bool(entry.get("ok", False)),
                seconds=float(entry.get("seconds", 0.0)),
                category=str(entry.get("category", ""))[:64],
                message=str(entry.get("message", ""))[:MAX_MESSAGE_CHARS],
                log_excerpt=str(entry.get("log_excerpt", ""))[-MAX_EXCERPT_CHARS:],
            )
        except (TypeError, ValueError, OverflowError, RecursionError):
            continue
    return statuses
