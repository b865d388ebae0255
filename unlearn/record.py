"""The dry-run's record: `record.zip` in its --out folder, scored or failed.

`RecordedRuns` is passed to `harness.pipeline.dry_run(on_runs=...)`, which hands it the
prepared phase and every run's outcome before they are checked; `write` then builds the
record (`harness.report.record`), unsigned: a local record has no server key, and
`unlearn verify` says so while it checks the hashes and recomputes the score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import SubmissionError
from harness.evaluate import Evaluation
from harness.reference.cache import Prepared
from harness.report.record import build_record, runs_from_outcomes, submission_sha256
from harness.runs.sandbox.base import Runner, RunOutcome

__all__ = ["RECORD_NAME", "RecordedRuns"]

RECORD_NAME = "record.zip"


class RecordedRuns:
    """What the dry-run saw of its runs, for its record."""

    def __init__(self) -> None:
        self.prepared: Prepared | None = None
        self.outcomes: list[RunOutcome] = []

    def __call__(self, prepared: Prepared, outcomes: list[RunOutcome]) -> None:
        self.prepared, self.outcomes = prepared, list(outcomes)

    def write(
        self,
        out: Path,
        *,
        submission: Path,
        runner: Runner,
        unlearned: Evaluation | None = None,
        result: Any | None = None,
        failure: SubmissionError | None = None,
    ) -> Path | None:
        """Write `out/record.zip`; None when the evaluation stopped before its runs."""
        if self.prepared is None:
            return None
        record = build_record(
            prepared=self.prepared,
            runs=runs_from_outcomes(self.outcomes),
            unlearned=unlearned,
            result=result,
            submission_sha=submission_sha256(submission),
            sandbox=runner.describe(),
            kind="dry-run",
            failure=None
            if failure is None
            else {"category": failure.category, "message": failure.message},
        )
        return record.write(Path(out) / RECORD_NAME)
