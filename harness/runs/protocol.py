"""The submission protocol: load `unlearning()`, seed a run, hand it loaders, run it once.

This module is the one code path shared by the in-process dry-run and the in-container
sandbox runner, so the same seed gives the same weights on both sides.

Contract (as in the 2023 starting kit, checked statically by `harness.runs.contract`):

    def unlearning(net, retain_loader, forget_loader, val_loader) -> None | nn.Module

`net` is a `torch.nn.Module` on the run's device, in train mode, changed in place (or a
model of the same architecture is returned); each loader is a `DataLoader` whose batches
follow the phase's interface (`harness.data.batches`). One run = fresh copy of the
original weights + `seed_run(seed)` + loaders whose shuffling follows that seed + one call
of `unlearning`.
"""

from __future__ import annotations

import importlib.util
import inspect
import random
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from harness.checkpoint import state_to_bytes
from harness.data.batches import (
    DEFAULT_INTERFACE,
    INTERFACES,
    SplitData,
    make_loader,
    shuffled_loader,  # re-exported: its home was here
)
from harness.errors import InvalidSubmission, SubmissionCrashed
from harness.runs.contract import ENTRY_POINT, check_entry_point

__all__ = [
    "ENTRY_POINT",
    "Loaders",
    "UnlearningFn",
    "check_source",
    "device_arguments",
    "load_submission",
    "make_loaders",
    "rehearse",
    "ReturnedModelIgnored",
    "run_once",
    "seed_run",
    "shuffled_loader",
    "submission_traceback",
    "warm_up",
]

# Returns None by contract; what a submission returns anyway is checked, not trusted.
Loader = DataLoader[Any]
UnlearningFn = Callable[[torch.nn.Module, Loader, Loader, Loader], object]


def check_source(
    source: str, *, filename: str = "submission.py", filled: Collection[str] = ()
) -> None:
    """The static contract check (`harness.runs.contract`): raise its first problem."""
    problems = check_entry_point(source, filename=filename, filled=filled)
    if problems:
        raise InvalidSubmission(str(problems[0]))


def load_submission(path: Path, *, filled: Collection[str] = ()) -> UnlearningFn:
    """Import the submission at `path` (a .py file, or a folder holding submission.py).

    The folder is put on sys.path so helper modules next to submission.py import. `filled`:
    the parameters the phase's interface fills by keyword (`Interface.device_parameters`).
    """
    path = Path(path)
    file = path / "submission.py" if path.is_dir() else path
    if not file.is_file():
        raise InvalidSubmission(f"submission file not found: {file}")
    source = file.read_text(encoding="utf-8", errors="replace")
    check_source(source, filename=file.name, filled=filled)
    _text_progress_bars()
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
        # The sanity check for what the static check could not decide (decorated, imported).
        signature = inspect.signature(fn)
        given = {name: None for name in filled if name in signature.parameters}
        signature.bind(None, None, None, None, **given)
    except ValueError:
        pass  # no signature to read (a builtin or C callable): the call itself will tell
    except TypeError as exc:
        raise InvalidSubmission(
            f"{file.name}: `{ENTRY_POINT}` cannot take four arguments: {exc}"
        ) from None
    return fn  # type: ignore[no-any-return]


def _text_progress_bars() -> None:
    """Make `tqdm.notebook` print text bars where no notebook widgets exist (a run, a terminal).

    2023 submissions were notebooks: `from tqdm.notebook import tqdm` raises without
    ipywidgets, so here it gives tqdm's text bar instead, as `tqdm.auto` would.
    """
    try:
        import tqdm.notebook as notebook
        import tqdm.std as text
    except ImportError:
        return
    if getattr(notebook, "IProgress", None) is None:
        notebook.tqdm = notebook.tqdm_notebook = text.tqdm
        notebook.trange = notebook.tnrange = text.trange


def seed_run(seed: int) -> None:
    """Seed every source of randomness a submission is likely to draw from."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@dataclass
class Loaders:
    retain: DataLoader[Any]
    forget: DataLoader[Any]
    val: DataLoader[Any]
    interface: str = DEFAULT_INTERFACE


Split = tuple[torch.Tensor, torch.Tensor]


def make_loaders(
    *,
    retain: Split,
    forget: Split,
    val: Split,
    seed: int,
    batch_size: int = 64,
    interface: str = DEFAULT_INTERFACE,
    ids: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    groups: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    fast: bool = True,
) -> Loaders:
    """Shuffled DataLoaders whose order is a function of `seed` alone (one generator each).

    Batches follow `interface` (`harness.data.batches`); `ids` are the examples' indices in
    the whole data set (default: 0..n-1 per split), `groups` their group ids where the data
    set has them. `fast=False` reads items one by one as a participant's own loader would:
    same batches, slower.
    """

    def loader(split: Split, offset: int) -> DataLoader[Any]:
        inputs, targets = split
        data = SplitData(
            inputs,
            targets,
            ids[offset] if ids is not None else torch.arange(len(targets)),
            groups[offset] if groups is not None else None,
        )
        generator = torch.Generator().manual_seed(seed * 3 + offset)
        return make_loader(
            data, interface=interface, batch_size=batch_size, generator=generator, fast=fast
        )

    return Loaders(
        retain=loader(retain, 0), forget=loader(forget, 1), val=loader(val, 2), interface=interface
    )


def warm_up() -> None:
    """Pay torch's one-off lazy set-up before any run is timed.

    The first optimizer a process builds imports torch._dynamo (one to three seconds on a
    CPU), and the first forward, backward and step of a process set up more (tens of
    milliseconds). Without this, a fresh process would charge them to its first seed's run
    time, and a run forked from a warmed-up process (`harness.runs.sandbox.isolation`) to
    every run. One step of a tiny model through the harness's own loaders pays them here,
    and the progress-bar modules `load_submission` patches are imported too (about 0.1 s).
    The global random state is left to `seed_run`, which every run calls first.
    """
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0, momentum=0.9)
    split = (torch.zeros(4, 4), torch.zeros(4, dtype=torch.long))
    loaders = make_loaders(retain=split, forget=split, val=split, seed=0, batch_size=2)
    for inputs, targets in loaders.retain:
        loss = torch.nn.functional.cross_entropy(net(inputs), targets)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        optimizer.step()
    _text_progress_bars()


def rehearse(net: torch.nn.Module, seed: int) -> None:
    """Pay, before a forked run's clock starts, the first-call costs of the harness's own
    steps around `unlearning()`: seeding and reading the weights out.

    A child forked from a warmed-up process still pays for the first touch of every page it
    shares with its parent, and under gVisor each touch is a trap: seeding took 38 ms of a
    do-nothing run there, and saving the tiny weights 25 ms (measured, docs/sandbox.md). The
    same steps done once here touch those pages; `run_once` seeds again, so the run is
    unchanged.
    """
    seed_run(seed)
    state_to_bytes(net.state_dict())


def run_once(
    fn: UnlearningFn, net: torch.nn.Module, loaders: Loaders, *, seed: int, submission_dir: Path
) -> float:
    """Seed, run `fn` once on `net` (on its device, in train mode); the wall time in seconds.

    A returned `nn.Module` with `net`'s architecture (same parameter names and shapes) is
    taken as the result, as the 2023 participants' own callers did: its weights are copied
    into `net`. Any other returned value is ignored, with a warning in the log.
    """
    seed_run(seed)
    net.train()
    extra = device_arguments(fn, net, loaders.interface)
    started = time.perf_counter()
    try:
        returned = fn(net, loaders.retain, loaders.forget, loaders.val, **extra)
    except Exception as exc:
        message = f"unlearning() raised {type(exc).__name__}: {exc} (seed {seed})"
        hint = INTERFACES[loaders.interface].hint(exc)
        raise SubmissionCrashed(
            f"{message}; {hint}" if hint else message,
            log_excerpt=submission_traceback(exc, submission_dir),
        ) from None
    seconds = time.perf_counter() - started
    if returned is not None and returned is not net:
        _take_returned(returned, net)
    return seconds


def device_arguments(fn: UnlearningFn, net: torch.nn.Module, interface: str) -> dict[str, str]:
    """The interface's device parameters that `fn` has, each set to `net`'s device.

    Only parameters that can be passed by keyword and are not one of the four loaders'
    slots are filled (`def unlearning(net, r, f, v, device=None)`, or keyword-only).
    """
    names = INTERFACES[interface].device_parameters
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    first = next(iter(net.parameters()), None)
    device = str(first.device) if first is not None else "cpu"
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        p.name: device
        for index, p in enumerate(parameters)
        if p.name in names and p.kind in keyword and (index >= 4 or p.kind == keyword[1])
    }


def _same_architecture(model: torch.nn.Module, net: torch.nn.Module) -> bool:
    mine, theirs = net.state_dict(), model.state_dict()
    return mine.keys() == theirs.keys() and all(
        mine[k].shape == theirs[k].shape and mine[k].dtype == theirs[k].dtype for k in mine
    )


def _take_returned(returned: object, net: torch.nn.Module) -> None:
    if isinstance(returned, torch.nn.Module) and _same_architecture(returned, net):
        with torch.no_grad():
            net.load_state_dict(returned.state_dict())
        return
    what = (
        "a model whose parameters differ from `net`'s (names or shapes)"
        if isinstance(returned, torch.nn.Module)
        else f"a {type(returned).__name__}"
    )
    warnings.warn(
        f"unlearning() returned {what}; it is ignored and `net`'s weights are kept. Return "
        "None, `net`, or a model of the same architecture",
        ReturnedModelIgnored,
        stacklevel=1,
    )


class ReturnedModelIgnored(UserWarning):
    """unlearning() returned something other than a model of net's architecture (ignored)."""


def submission_traceback(exc: BaseException, submission_dir: Path) -> str:
    """The traceback limited to frames in the submission's own files, for its author, each
    named as in the upload (`submission.py`, `helpers/io.py`), not by the folder it ran in."""
    root = Path(submission_dir).resolve()
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            frame.filename = path.relative_to(root).as_posix()
            frames.append(frame)
    lines = ["Traceback (submission frames only):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
