"""In-process runner: the dry-run's and the tests' way to run a submission, no isolation.

It follows the same protocol as the Docker runner (`harness.protocol`): per seed a fresh
model from the job's original weights, `seed_run(seed)`, loaders shuffled by that seed,
one call of `unlearning()`, weights copied out. It sets `torch.set_num_threads(job.threads)`
for the runs, as the container does, so the same seed gives the same weights on both.

Trust: none. The submission runs inside this process and could touch anything the process
can; use it for your own code. Time limits are checked after each run, not enforced.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from harness.errors import SubmissionError, TimeLimitExceeded
from harness.models import build_model
from harness.protocol import load_submission, make_loaders, run_once, warm_up
from harness.sandbox.base import Job, Runner, RunOutcome, SeedProgress

__all__ = ["LocalRunner"]

logger = logging.getLogger(__name__)


class LocalRunner(Runner):
    """Runs every seed of a job in this process, one after another."""

    name = "local"

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
            outcomes = []
            for seed in job.seeds:
                outcomes.append(self._run_seed(job, fn, seed, submission_dir))
                if on_seed_done is not None:
                    on_seed_done(seed)
            return outcomes
        finally:
            torch.set_num_threads(previous_threads)

    @staticmethod
    def _run_seed(job: Job, fn, seed: int, submission_dir: Path) -> RunOutcome:  # type: ignore[no-untyped-def]
        net = build_model(job.spec)
        net.load_state_dict({name: t.clone() for name, t in job.original.items()})
        net.to(job.device)
        loaders = make_loaders(
            retain=job.retain, forget=job.forget, val=job.val, seed=seed, batch_size=job.batch_size
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
