"""The submission protocol: load `unlearning()`, seed a run, hand it loaders, run it once.

This module is the one code path shared by the in-process dry-run and the in-container
sandbox runner, so the same seed gives the same weights on both sides.

Contract (as in the 2023 starting kit):

    def unlearning(net, retain_loader, forget_loader, val_loader) -> None

`net` is a `torch.nn.Module` changed in place; each loader yields `(inputs, targets)`
batches. One run = fresh copy of the original weights + `seed_run(seed)` + loaders whose
shuffling follows that seed + one call of `unlearning`.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import random
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from harness.errors import InvalidSubmission, SubmissionCrashed

__all__ = [
    "ENTRY_POINT",
    "Loaders",
    "UnlearningFn",
    "check_source",
    "load_submission",
    "make_loaders",
    "ReturnedModelIgnored",
    "run_once",
    "seed_run",
    "shuffled_loader",
    "submission_traceback",
    "warm_up",
]

ENTRY_POINT = "unlearning"
PARAMETERS = ("net", "retain_loader", "forget_loader", "val_loader")
# Returns None by contract; what a submission returns anyway is checked, not trusted.
UnlearningFn = Callable[[torch.nn.Module, DataLoader, DataLoader, DataLoader], object]


def check_source(source: str, *, filename: str = "submission.py") -> None:
    """Static check without running anything: parses, defines unlearning() with 4 params."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise InvalidSubmission(f"{filename}, line {exc.lineno}: syntax error: {exc.msg}") from None
    functions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == ENTRY_POINT
    ]
    if not functions:
        raise InvalidSubmission(
            f"{filename}: no top-level function `{ENTRY_POINT}` found; define "
            f"`def {ENTRY_POINT}({', '.join(PARAMETERS)}):`"
        )
    node = functions[-1]
    if isinstance(node, ast.AsyncFunctionDef):
        raise InvalidSubmission(
            f"{filename}, line {node.lineno}: `{ENTRY_POINT}` must be a plain function, not async"
        )
    positional = node.args.posonlyargs + node.args.args
    required = len(positional) - len(node.args.defaults)
    if (node.args.vararg is None and len(positional) < 4) or required > 4:
        raise InvalidSubmission(
            f"{filename}, line {node.lineno}: `{ENTRY_POINT}` must take four positional "
            f"parameters ({', '.join(PARAMETERS)}), it takes {len(positional)}"
        )


def load_submission(path: Path) -> UnlearningFn:
    """Import the submission at `path` (a .py file, or a folder holding submission.py).

    The folder is put on sys.path so helper modules next to submission.py import.
    """
    path = Path(path)
    file = path / "submission.py" if path.is_dir() else path
    if not file.is_file():
        raise InvalidSubmission(f"submission file not found: {file}")
    check_source(file.read_text(encoding="utf-8", errors="replace"), filename=file.name)
    folder = str(file.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"_submission_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SubmissionCrashed(
            f"importing {file.name} failed: {type(exc).__name__}: {exc}",
            log_excerpt=submission_traceback(exc, file.parent),
        ) from None
    fn = getattr(module, ENTRY_POINT, None)
    if not callable(fn):
        raise InvalidSubmission(f"{file.name}: `{ENTRY_POINT}` is not a function after import")
    try:
        inspect.signature(fn).bind(None, None, None, None)
    except TypeError as exc:
        raise InvalidSubmission(
            f"{file.name}: `{ENTRY_POINT}` cannot take four arguments: {exc}"
        ) from None
    return fn  # type: ignore[no-any-return]


def seed_run(seed: int) -> None:
    """Seed every source of randomness a submission is likely to draw from."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@dataclass
class Loaders:
    retain: DataLoader
    forget: DataLoader
    val: DataLoader


def make_loaders(
    *,
    retain: tuple[torch.Tensor, torch.Tensor],
    forget: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    batch_size: int = 64,
) -> Loaders:
    """Shuffled loaders whose order is a function of `seed` alone (one generator per loader)."""

    def loader(tensors: tuple[torch.Tensor, torch.Tensor], offset: int) -> DataLoader:
        generator = torch.Generator().manual_seed(seed * 3 + offset)
        return shuffled_loader(tensors, batch_size=batch_size, generator=generator)

    return Loaders(retain=loader(retain, 0), forget=loader(forget, 1), val=loader(val, 2))


def shuffled_loader(
    tensors: tuple[torch.Tensor, ...], *, batch_size: int, generator: torch.Generator
) -> DataLoader:
    """A shuffling loader of `(inputs, targets)` batches whose order follows `generator` only.

    It yields exactly the batches of `DataLoader(TensorDataset(*tensors), batch_size,
    shuffle=True, generator=generator)` (same generator draws, same order), but indexes
    whole batches at once instead of collating single examples: about twice as fast on
    small tensors, which matters because runs are timed against a retraining.
    """
    dataset = TensorDataset(*tensors)
    sampler = BatchSampler(RandomSampler(dataset, generator=generator), batch_size, False)
    return DataLoader(dataset, sampler=sampler, batch_size=None, generator=generator)


def warm_up() -> None:
    """Pay torch's one-off lazy imports before any run is timed.

    The first optimizer a process builds imports torch._dynamo (one to three seconds on a
    CPU). Without this, a fresh process would charge it to its first seed's run time, and
    the efficiency gate would see a slower run than the submission's own.
    """
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)


def run_once(
    fn: UnlearningFn, net: torch.nn.Module, loaders: Loaders, *, seed: int, submission_dir: Path
) -> float:
    """Seed, run `fn` once on `net` in place, and return the wall time in seconds."""
    seed_run(seed)
    net.train()
    started = time.perf_counter()
    try:
        returned = fn(net, loaders.retain, loaders.forget, loaders.val)
    except Exception as exc:
        raise SubmissionCrashed(
            f"unlearning() raised {type(exc).__name__}: {exc} (seed {seed})",
            log_excerpt=submission_traceback(exc, submission_dir),
        ) from None
    seconds = time.perf_counter() - started
    if isinstance(returned, torch.nn.Module) and returned is not net:
        # The 2023 rule ignores the return value; a silently unchanged model scores zero.
        warnings.warn(
            "unlearning() returned a model other than `net`; it is ignored and `net`'s "
            "weights are kept. Change `net` in place, e.g. net.load_state_dict(model.state_dict())",
            ReturnedModelIgnored,
            stacklevel=1,
        )
    return seconds


class ReturnedModelIgnored(UserWarning):
    """unlearning() returned a new model, which the protocol ignores (shown once per process)."""


def submission_traceback(exc: BaseException, submission_dir: Path) -> str:
    """The traceback limited to frames in the submission's own files, for its author."""
    root = str(Path(submission_dir).resolve())
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if str(Path(frame.filename).resolve()).startswith(root)
    ]
    lines = ["Traceback (submission frames only):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
