"""The server's record of a scored split: built by the backend, signed and stored by the task.

    scored_record(prepared, arrays=, unlearned=, result=, runner=) -> Record (unsigned)
    store_record(store, record, secret_key=, submission_sha256=, ...) -> the artifact key

`HarnessBackend.score` builds one record per split from what it scored: the runs' arrays
(every run of a scored split succeeded: a failed run fails its shard and the submission
before scoring), the reference it compared them with (cut to n at a racing stop) and the
`ScoreReport`. `worker.tasks.score` then names the submission (its sha256), signs the record
with a key derived from the server's `UNLEARN_SECRET_KEY` and stores it under
`competition.artifacts.evaluation_record_key`, before the result row that makes it visible.
The record carries the score computed from the stored runs: a racing row ranked on its
predicted full-N score keeps that prediction in its report only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from competition.artifacts import ArtifactStore, evaluation_record_key
from harness.evaluate import Evaluation
from harness.reference.cache import Prepared
from harness.report.record import Record, RunEntry, build_record, record_key
from harness.runs.sandbox.base import Runner

logger = logging.getLogger(__name__)

__all__ = ["scored_record", "store_record"]


def _sandbox(runner: Callable[[], Runner]) -> dict[str, str]:
    """The runner's description; the image id is looked up on this worker (same settings
    as the workers that ran the shards)."""
    try:
        return runner().describe()
    except Exception:  # a scoring host without Docker: the record says so
        logger.warning("sandbox description unavailable for the record", exc_info=True)
        return {"image_id": "unavailable"}


def scored_record(
    prepared: Prepared,
    *,
    arrays: Any,
    unlearned: Evaluation,
    result: Any,
    runner: Callable[[], Runner],
) -> Record | None:
    """The unsigned record of a scored split (`arrays`: the concatenated `ShardArrays`);
    None, logged, if it cannot be built: the score stands without its record."""
    try:
        runs = [
            RunEntry(int(seed), "ok", float(seconds))
            for seed, seconds in zip(arrays.seeds.tolist(), arrays.seconds.tolist(), strict=True)
        ]
        return build_record(
            prepared=prepared,
            runs=runs,
            unlearned=unlearned,
            result=result,
            submission_sha="",  # named by the task, which knows the submission
            sandbox=_sandbox(runner),
            kind="server",
        )
    except Exception:
        logger.exception("the record of a scored split could not be built")
        return None


def store_record(
    store: ArtifactStore,
    record: Record,
    *,
    secret_key: str,
    submission_sha256: str,
    submission_id: int,
    attempt: int,
    split: str,
) -> str:
    """Name the submission, sign, store; returns the artifact key."""
    manifest = {
        **record.manifest,
        "submission": {"sha256": submission_sha256, "id": submission_id, "attempt": attempt},
    }
    signed = Record(manifest, record.files).signed(record_key(secret_key))
    key = evaluation_record_key(submission_id, attempt, split)
    store.put_bytes(key, signed.to_bytes())
    return key
