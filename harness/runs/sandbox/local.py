"""LocalRunner: the dry-run's and the tests' way to run a submission, without a container.

It follows the same protocol as the Docker runner (`harness.runs.protocol`): per seed a fresh
model from the job's original weights, `seed_run(seed)`, loaders shuffled by that seed,
one call of `unlearning()`, weights copied out. It sets `torch.set_num_threads(job.threads)`
for the runs, as the container does, so the same seed gives the same weights on both.

Each seed runs in its own forked process, as in the sandbox (`isolation.run_child`): the
submission is loaded fresh in every run, with a private TMPDIR deleted after it, so a
submission that caches work in module globals or scratch files behaves the same here as on
the server (each run starts cold). The interface's scratch folders (kaggle2023:
/kaggle/tmp, /kaggle/working) exist only in the sandbox: this runner makes nothing outside
its own temporary folders, so where they are missing here a warning says so once. A run is
killed at `job.time_limit_s`. A run's time is the parent's measurement of its child from
the hand-over (model and loaders built, the submission not yet imported) to its exit, as in
the sandbox: the fork, that set-up and the clean-up after it are not charged. Where a fork
is impossible (no fork on this OS, or CUDA already initialised in this process, which a
fork cannot inherit) the seeds run in this process one after another, and a warning says so.

`capture_output=True` (the worker's embedded mode) keeps what each run prints to stdout and
stderr, its last `CAPTURE_CHARS` characters, as the outcome's `log_excerpt`; off by default
so that a dry-run's progress bars keep drawing on the terminal.

With `processes` > 1 (CPU only) up to that many runs go side by side, each with
`job.threads` torch threads: the submission's runs are the whole cost of this stage, so
running them on idle cores is what shortens it. A seed gives the same weights whichever
process runs it.

Trust: none. The submission runs in processes of this user and could touch anything it can;
use it for your own code.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load

from harness.checkpoint import MAX_WEIGHTS_BYTES, state_to_bytes
from harness.data.batches import INTERFACES
from harness.errors import (
    BadOutput,
    InvalidSubmission,
    OutOfMemory,
    SubmissionCrashed,
    SubmissionError,
    TimeLimitExceeded,
)
from harness.models import build_model
from harness.runs.protocol import (
    Loaders,
    ReturnedModelIgnored,
    check_source,
    load_submission,
    make_loaders,
    rehearse,
    run_once,
    warm_up,
)
from harness.runs.sandbox.base import Job, Runner, RunOutcome, SeedProgress
from harness.runs.sandbox.isolation import (
    ChildLimits,
    Claim,
    frozen_heap,
    read_output,
    read_result,
    run_child,
)

__all__ = ["LocalRunner"]

logger = logging.getLogger(__name__)

CAPTURE_CHARS = 16_000
ERRORS: dict[str, type[SubmissionError]] = {
    cls.category: cls
    for cls in (InvalidSubmission, SubmissionCrashed, TimeLimitExceeded, OutOfMemory, BadOutput)
}


class _Tail(io.StringIO):
    """A text sink that keeps only its last `limit` characters (a chatty run stays small)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.cut = limit, 0

    def write(self, text: str) -> int:
        written = super().write(text)
        value = self.getvalue()
        if len(value) > 2 * self.limit:
            self.cut += len(value) - self.limit
            self.seek(0)
            self.truncate()
            super().write(value[-self.limit :])
        return written

    def text(self) -> str:
        value = self.getvalue()[-self.limit :]
        skipped = self.cut + max(0, len(self.getvalue()) - self.limit)
        return f"[… {skipped} earlier characters cut]\n{value}" if skipped else value


class LocalRunner(Runner):
    """Runs every seed of a job in its own forked process (see the module docstring)."""

    name = "local"

    def __init__(self, *, processes: int = 1, capture_output: bool = False) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1; got {processes}")
        self.processes = processes
        self.capture_output = capture_output

    def run(self, job: Job, *, on_seed_done: SeedProgress | None = None) -> list[RunOutcome]:
        submission = Path(job.submission)
        file = submission / "submission.py" if submission.is_dir() else submission
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(job.threads)
        try:
            try:
                if not file.is_file():
                    raise InvalidSubmission(f"submission file not found: {file}")
                check_source(
                    file.read_text(encoding="utf-8", errors="replace"),
                    filename=file.name,
                    filled=_filled(job),
                )
            except SubmissionError as error:
                # A submission that cannot load fails every seed the same way.
                return [RunOutcome(seed, None, 0.0, error, error.log_excerpt) for seed in job.seeds]
            warm_up()
            if not _can_fork(job):
                logger.warning(
                    "seeds run in this process, one after another (no fork here, or CUDA "
                    "already initialised): a run can see what earlier runs left in memory"
                )
                return self._in_process(job, on_seed_done)
            run = functools.partial(_forked_seed, job, self.capture_output)
            workers = self.processes if job.device == "cpu" else 1
            outcomes = []
            with frozen_heap():
                if workers == 1 or len(job.seeds) == 1:
                    for seed in job.seeds:
                        outcomes.append(run(seed))
                        if on_seed_done is not None:
                            on_seed_done(seed)
                    return outcomes
                with ThreadPoolExecutor(min(workers, len(job.seeds))) as pool:
                    for outcome in pool.map(run, job.seeds):
                        outcomes.append(outcome)
                        if on_seed_done is not None:
                            on_seed_done(outcome.seed)
                return outcomes
        finally:
            torch.set_num_threads(previous_threads)

    def _in_process(self, job: Job, on_seed_done: SeedProgress | None) -> list[RunOutcome]:
        try:
            fn = load_submission(Path(job.submission), filled=_filled(job))
        except SubmissionError as error:
            return [RunOutcome(seed, None, 0.0, error, error.log_excerpt) for seed in job.seeds]
        outcomes = []
        for seed in job.seeds:
            if self.capture_output:
                sink = _Tail(CAPTURE_CHARS)
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    outcome = _run_seed(job, fn, seed)
                outcome.log_excerpt = _joined(sink.text(), outcome.log_excerpt)
            else:
                outcome = _run_seed(job, fn, seed)
            if outcome.ok and job.time_limit_s is not None and outcome.seconds > job.time_limit_s:
                too_slow = _too_slow(seed, job, outcome.seconds)
                outcome = RunOutcome(seed, None, outcome.seconds, too_slow)
            outcomes.append(outcome)
            if on_seed_done is not None:
                on_seed_done(seed)
        return outcomes


def _can_fork(job: Job) -> bool:
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    initialised = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
    return not (job.device.startswith("cuda") and initialised)


SeedInputs = tuple[torch.nn.Module, Loaders]
"""What a run is handed: a fresh model with the original weights on its device, its loaders."""


def _seed_inputs(job: Job, seed: int) -> SeedInputs:
    net = build_model(job.spec)
    net.load_state_dict({name: t.clone() for name, t in job.original.items()})
    net.to(job.device)
    loaders = make_loaders(
        retain=job.retain,
        forget=job.forget,
        val=job.val,
        seed=seed,
        batch_size=job.batch_size,
        interface=job.interface,
        ids=job.ids,
        groups=job.groups,
    )
    return net, loaders


def _run_seed(job: Job, fn: Any, seed: int, inputs: SeedInputs | None = None) -> RunOutcome:
    net, loaders = inputs if inputs is not None else _seed_inputs(job, seed)
    submission_dir = Path(job.submission)
    submission_dir = submission_dir if submission_dir.is_dir() else submission_dir.parent
    try:
        seconds = run_once(fn, net, loaders, seed=seed, submission_dir=submission_dir)
    except SubmissionError as error:
        return RunOutcome(seed, None, 0.0, error, error.log_excerpt)
    if job.device.startswith("cuda"):
        torch.cuda.synchronize()
    state = {name: t.detach().to("cpu").clone() for name, t in net.state_dict().items()}
    return RunOutcome(seed, state, seconds)


def _child_body(job: Job, seed: int, inputs: SeedInputs) -> tuple[Claim, bytes | None]:
    """One seed in a forked child, once its clock has started: load the submission fresh
    (its import is its own work), run it on the prepared inputs, send the weights."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReturnedModelIgnored)
        try:
            outcome = _run_seed(
                job, load_submission(Path(job.submission), filled=_filled(job)), seed, inputs
            )
        except SubmissionError as error:
            outcome = RunOutcome(seed, None, 0.0, error, error.log_excerpt)
    returned = [str(w.message) for w in caught if issubclass(w.category, ReturnedModelIgnored)]
    for w in caught:  # the others are shown as they would have been
        if not issubclass(w.category, ReturnedModelIgnored):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    claim: Claim = {"ok": outcome.ok, "seconds": outcome.seconds, "ignored_returns": returned}
    if outcome.error is not None:
        claim |= {"category": outcome.error.category, "message": outcome.error.message}
        claim["log_excerpt"] = outcome.log_excerpt
    return claim, state_to_bytes(outcome.state) if outcome.state is not None else None


def _forked_seed(job: Job, capture: bool, seed: int) -> RunOutcome:
    """Run `seed` in a child with a private TMPDIR; its outcome, built from what it sent."""
    scratch = tempfile.mkdtemp(prefix=f"unlearn-run-{seed}-")

    def prepare() -> SeedInputs:  # before the clock starts: the same for every submission
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        torch.set_num_threads(job.threads)
        os.environ["TMPDIR"] = tempfile.tempdir = scratch
        if job.device.startswith("cuda"):
            torch.zeros(1, device=job.device)
        inputs = _seed_inputs(job, seed)
        rehearse(inputs[0], seed)
        return inputs

    _warn_missing_scratch(INTERFACES[job.interface].scratch_folders)

    def sweep(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)

    limits = ChildLimits(
        result_bytes=MAX_WEIGHTS_BYTES,
        capture_bytes=CAPTURE_CHARS * 4,
        time_limit_s=job.time_limit_s,
        capture=capture,
        close_fds=False,
    )
    result = run_child(
        functools.partial(_child_body, job, seed), limits=limits, sweep=sweep, prepare=prepare
    )
    try:
        claim, offset, length = read_result(result)
        printed = read_output(result)[-CAPTURE_CHARS:] if capture else ""
        weights = os.pread(result.result, length, offset) if length > 0 else b""
    finally:
        result.close()
    ignored = claim.get("ignored_returns")
    for message in ignored if isinstance(ignored, list) else []:
        warnings.warn(str(message), ReturnedModelIgnored, stacklevel=2)
    seconds = result.seconds
    error: SubmissionError | None = None
    if result.timed_out:
        error = _too_slow(seed, job, seconds)
    elif claim.get("ok") and weights:
        try:
            state = load(weights)
        except Exception as exc:  # the weights the child sent could not be read back
            error = BadOutput(f"seed {seed}: the run's weights are unreadable ({exc})")
        else:
            return RunOutcome(seed, state, seconds, log_excerpt=printed)
    elif claim.get("category") in ERRORS:
        error = ERRORS[str(claim["category"])](str(claim.get("message", "")))
    else:
        error = SubmissionCrashed(
            f"seed {seed}: the run ended (exit code {result.exit_code}) before it sent weights; "
            "a submission must not exit the process"
        )
    trace = str(claim.get("log_excerpt", ""))
    error.log_excerpt = trace
    return RunOutcome(seed, None, seconds, error, _joined(printed, trace) if capture else trace)


def _filled(job: Job) -> tuple[str, ...]:
    """The parameters of unlearning() the job's interface fills by keyword (its device)."""
    return INTERFACES[job.interface].device_parameters


@functools.cache
def _warn_missing_scratch(folders: tuple[str, ...]) -> None:
    """Say once which of the interface's scratch folders (/kaggle/tmp, ...) this machine
    lacks: the sandbox gives them, but a dry-run does not make folders outside its own."""
    missing = [folder for folder in folders if not os.path.isdir(folder)]
    if missing:
        logger.warning(
            "%s exist only in the sandbox: a submission that writes there fails in this "
            "dry-run (make them yourself to try it, or write under TMPDIR)",
            ", ".join(missing),
        )


def _too_slow(seed: int, job: Job, seconds: float | None = None) -> TimeLimitExceeded:
    took = f"took {seconds:.1f} s, " if seconds is not None else ""
    return TimeLimitExceeded(
        f"run with seed {seed} {took}over the limit of {job.time_limit_s:.1f} s"
    )


def _joined(printed: str, trace: str) -> str:
    if printed and trace and trace not in printed:
        return printed + "\n" + trace
    return printed or trace
