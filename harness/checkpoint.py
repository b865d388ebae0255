"""Weights across trust boundaries: safetensors only, validated against the architecture.

Every checkpoint that leaves a submission's reach (the sandbox's output folder, or the
in-process dry-run) is read back here and checked before any metric is computed from it:
same parameter names, shapes and dtypes as the original model, every value finite, and a
bounded file size. Pickle is never used, so a checkpoint cannot execute code when loaded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save, save_file

from harness.errors import BadOutput

__all__ = [
    "MAX_WEIGHTS_BYTES",
    "load_weights",
    "read_regular_file",
    "save_weights",
    "state_to_bytes",
    "validate_state",
]

MAX_WEIGHTS_BYTES = 512 * 1024 * 1024


def state_to_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """Serialise a state dict (contiguous CPU copies) to safetensors bytes."""
    return save({name: t.detach().to("cpu").contiguous() for name, t in state.items()})


def save_weights(model_or_state: torch.nn.Module | dict[str, torch.Tensor], path: Path) -> None:
    state = (
        model_or_state.state_dict()
        if isinstance(model_or_state, torch.nn.Module)
        else model_or_state
    )
    save_file({name: t.detach().to("cpu").contiguous() for name, t in state.items()}, str(path))


def read_regular_file(path: Path, *, max_bytes: int) -> bytes:
    """Read `path` without following a symbolic link and refusing anything but a plain file.

    Guards the trusted side against an output folder that a submission filled with links to
    host files, FIFOs that block, or a file larger than the phase allows.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BadOutput(f"{path.name}: cannot be read as a plain file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadOutput(f"{path.name}: is not a regular file")
        if info.st_nlink > 1:
            raise BadOutput(f"{path.name}: is a hard link; write a fresh file instead")
        if info.st_size > max_bytes:
            raise BadOutput(f"{path.name}: {info.st_size} bytes exceeds the limit of {max_bytes}")
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise BadOutput(f"{path.name}: exceeds the limit of {max_bytes} bytes")
        return data
    finally:
        os.close(fd)


def load_weights(path: Path, *, max_bytes: int = MAX_WEIGHTS_BYTES) -> dict[str, torch.Tensor]:
    """Load a safetensors file safely (no links, bounded size, never pickle)."""
    data = read_regular_file(path, max_bytes=max_bytes)
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise BadOutput(
            f"{path.name}: not a valid safetensors file ({exc}); weights must be written "
            "by the harness runner, never with pickle/torch.save"
        ) from None


def validate_state(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    """Raise BadOutput unless `state` matches `reference` in names, shapes, dtypes, finiteness."""
    missing = sorted(set(reference) - set(state))
    extra = sorted(set(state) - set(reference))
    if missing or extra:
        raise BadOutput(
            "the architecture changed: "
            + (f"missing parameters {missing[:5]}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected parameters {extra[:5]}" if extra else "")
        )
    for name, ref in reference.items():
        got = state[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise BadOutput(
                f"parameter {name!r} has shape {tuple(got.shape)}, expected {tuple(ref.shape)}"
            )
        if got.dtype != ref.dtype:
            raise BadOutput(f"parameter {name!r} has dtype {got.dtype}, expected {ref.dtype}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise BadOutput(f"parameter {name!r} contains NaN or infinite values")
