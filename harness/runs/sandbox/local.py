"""In-process runner: the dry-run's and the tests' way to run a submission, no isolation.

It follows the same protocol as the Docker runner (`harness.runs.protocol`): per seed a fresh
model from the job's original weights, `seed_run(seed)`, loaders shuffled by that seed,
one call of `unlearning()`, weights copied out. It sets `torch.set_num_threads(job.threads)`
for the runs, as the container does, so the same seed gives the same weights on both.

`capture_output=True` (the worker's embedded mode) keeps what each run prints to stdout and
stderr, its last `CAPTURE_CHARS` characters, as the outcome's `log_excerpt`; off by default
so that a dry-run's progress bars keep drawing on the terminal.

With `processes` > 1 (CPU only, where the OS can fork) the seeds are shared among that many
forked copies of this process, each with `job.threads` torch threads: the submission's
runs are the whole cost of this stage (the runner's own work per run -- a fresh model, its
loaders, a copy of the weights -- is under 2% of a run of the starting kit's finetune), so
running them side by side on idle cores is what shortens it. A seed gives the same weights
whichever process runs it: the model, the loaders and the seeding are the same, and so is
the thread count.

Trust: none. The submission runs inside this process (or its forks) and could touch
anything the process can; use it for your own code. Time limits are checked after each
run, not enforced.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.errors import SubmissionError, TimeLimitExceeded
from harness.models import build_model
from harness.runs.protocol import load_submission, make_loaders, run_once, warm_up
from harness.runs.sandbox.base import Job, Runner, RunOutcome, SeedProgress

__all__ = ["LocalRunner"]

logger = logging.getLogger(__name__)


CAPTURE_CHARS = 16_000


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
    """Runs every seed of a job in this process, one after another."""

    name = "local"

    def __init__(self, *, processes: int = 1, capture_output: bool = False) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1; got {processes}")
        self.processes = processes
        self.capture_output = capture_output

    def run(self, job: Job, *, on_seed_done: SeedProgress | None = None) -> list[RunOutcome]:
        submission = Path(job.submission)
        submission_dir = submission if submission.is_dir() else submission.parent
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(job.threads)
        try:
            try:
                fn = load_submission(submission)
            except SubmissionError as error:
                # A submission that cannot load fails every seed the same way.
                return [RunOutcome(seed, None, 0.0, error, error.log_excerpt) for seed in job.seeds]
            warm_up()
            if self._forks(job):
                return _run_forked(job, fn, submission_dir, self.processes, on_seed_done)
            outcomes = []
            for seed in job.seeds:
                outcomes.append(self._captured(job, fn, seed, submission_dir))
                if on_seed_done is not None:
                    on_seed_done(seed)
            return outcomes
        finally:
            torch.set_num_threads(previous_threads)

    def _captured(self, job: Job, fn, seed: int, submission_dir: Path) -> RunOutcome:  # type: ignore[no-untyped-def]
        if not self.capture_output:
            return self._run_seed(job, fn, seed, submission_dir)
        sink = _Tail(CAPTURE_CHARS)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            outcome = self._run_seed(job, fn, seed, submission_dir)
        printed = sink.text()
        if printed and outcome.log_excerpt and outcome.log_excerpt not in printed:
            printed += "\n" + outcome.log_excerpt
        outcome.log_excerpt = printed or outcome.log_excerpt
        return outcome

    def _forks(self, job: Job) -> bool:
        """Whether this job's seeds go to forked processes (never with CUDA, which a fork
        cannot inherit, nor when each run's output is captured in this process)."""
        return (
            self.processes > 1
            and not self.capture_output
            and len(job.seeds) > 1
            and job.device == "cpu"
            and "fork" in multiprocessing.get_all_start_methods()
        )

    @staticmethod
    def _run_seed(job: Job, fn, seed: int, submission_dir: Path) -> RunOutcome:  # type: ignore[no-untyped-def]
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
        try:
            seconds = run_once(fn, net, loaders, seed=seed, submission_dir=submission_dir)
        except SubmissionError as error:
            return RunOutcome(seed, None, 0.0, error, error.log_excerpt)
        if job.device.startswith("cuda"):
            torch.cuda.synchronize()
        if job.time_limit_s is not None and seconds > job.time_limit_s:
            too_slow = TimeLimitExceeded(
                f"run with seed {seed} took {seconds:.1f} s, over the limit of "
                f"{job.time_limit_s:.1f} s"
            )
            return RunOutcome(seed, None, seconds, too_slow)
        state = {name: t.detach().to("cpu").clone() for name, t in net.state_dict().items()}
        return RunOutcome(seed, state, seconds)


# What the forked workers run: set just before the fork, inherited, never pickled.
_FORKED: tuple[Job, Any, Path, str] | None = None


def _run_forked(
    job: Job,
    fn: Any,
    submission_dir: Path,
    processes: int,
    on_seed_done: SeedProgress | None,
) -> list[RunOutcome]:
    """Every seed of `job` in `processes` forked workers; outcomes in seed order."""
    global _FORKED
    # Each worker gets its own TMPDIR below this one, as each container has its own /tmp:
    # a submission that keeps a checkpoint at a fixed name there must not meet another seed's.
    scratch = tempfile.mkdtemp(prefix="unlearn-forks-")
    _FORKED = (job, fn, submission_dir, scratch)
    outcomes = []
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(processes, len(job.seeds)), initializer=_start_forked) as pool:
            for outcome in pool.imap(_forked_seed, job.seeds):
                if outcome.state is not None:  # numpy across the pipe, tensors again here
                    outcome.state = {
                        k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                        for k, v in outcome.state.items()
                    }
                outcomes.append(outcome)
                if on_seed_done is not None:
                    on_seed_done(outcome.seed)
    finally:
        _FORKED = None
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes


def _start_forked() -> None:
    assert _FORKED is not None, "a forked worker started without its job"
    # The pool ends its workers with SIGTERM; a handler inherited from the parent (the
    # dry-run turns SIGTERM into SystemExit to clean up its containers) would make an idle
    # worker unwind through exit handlers and hang the pool's shutdown instead of dying.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(_FORKED[0].threads)
    private = tempfile.mkdtemp(dir=_FORKED[3])
    os.environ["TMPDIR"] = tempfile.tempdir = private


def _forked_seed(seed: int) -> RunOutcome:
    assert _FORKED is not None, "a forked worker started without its job"
    job, fn, submission_dir, _ = _FORKED
    outcome = LocalRunner._run_seed(job, fn, seed, submission_dir)
    if outcome.state is not None:
        # Plain arrays pickle by value; tensors would go through torch's shared memory.
        # A dtype numpy lacks (bfloat16) crosses as a tensor; validation refuses it later.
        outcome.state = {k: _as_array(v) for k, v in outcome.state.items()}  # type: ignore[misc]
    return outcome


def _as_array(tensor: torch.Tensor) -> np.ndarray | torch.Tensor:
    try:
        return tensor.numpy()
    except TypeError:
        return tensor
