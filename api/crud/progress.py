"""Where an evaluation stands, read from the workers' shard rows: runs done out of N per split,
time spent on this attempt and an estimate of the time left.

Inputs: a viewer's `Sight` of a submission (`api.visibility`). Output: `ProgressPublic` (the
live page polls it as JSON, and `unlearn submit --wait` draws it as a progress bar). Runs are
counted per shard: a shard's seeds count once its outputs are stored
(`worker.leases.finish_shard`), and a running shard's as its runs finish
(`worker.leases.record_seeds_done`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas import ProgressPublic, SplitProgress
from api.visibility import Sight
from competition import preparation
from competition.models import Submission, SubmissionEvent, SubmissionStatus, utcnow
from competition.pipeline_models import PreparationState, ShardRun, ShardState

__all__ = ["STAGES", "submission_progress"]

S = SubmissionStatus
STAGES: dict[SubmissionStatus, str] = {
    S.RECEIVED: "received",
    S.VALIDATED: "checked, waiting for the queue",
    S.QUEUED: "waiting for a worker",
    S.SANITY_CHECK: "sanity check: one short run on the development split",
    S.RUNNING: "running the unlearning function",
    S.SCORING: "scoring against the retrained models",
    S.FINISHED: "finished",
    S.FAILED: "failed",
    S.CANCELLED: "cancelled",
}


def submission_progress(
    session: Session, sight: Sight, *, now: datetime | None = None
) -> ProgressPublic:
    """Progress of the submission's current attempt as `sight`'s viewer may see it: runs
    counted over the splits it shows, times that end where its view is frozen."""
    now = now or utcnow()
    submission = sight.submission
    splits = sight.splits
    shards = [
        shard
        for shard in session.scalars(
            select(ShardRun).where(
                ShardRun.submission_id == submission.id, ShardRun.attempt == submission.attempt
            )
        )
        if shard.split in splits
    ]
    total = submission.phase.config.replicas
    done = {split: 0 for split in splits}
    for shard in shards:
        # A finished shard counts all its seeds; a running one those it reported.
        finished = shard.state == ShardState.DONE
        done[shard.split] += (
            len(shard.seeds) if finished else min(shard.seeds_done, len(shard.seeds))
        )
    started = _attempt_started(session, submission)
    end = sight.frozen_at or (submission.updated_at if submission.is_terminal else now)
    elapsed = (end - started).total_seconds() if started else None
    live = ProgressPublic(
        submission_id=submission.id,
        status=submission.status,
        stage=_stage(session, submission),
        terminal=submission.is_terminal,
        disqualified=submission.disqualified,
        disqualified_reason=submission.disqualified_reason,
        splits=[
            SplitProgress(split=split, runs_done=min(done[split], total), runs_total=total)  # type: ignore[arg-type]
            for split in splits
        ],
        elapsed_s=elapsed,
        remaining_s=None if submission.is_terminal else _remaining(shards),
        public_score=submission.public_score,
        failure_category=submission.failure_category,
        failure_message=submission.failure_message,
    )
    return sight.progress_view(live)


def _stage(session: Session, submission: Submission) -> str:
    # A queued submission may be waiting on its phase rather than on a worker.
    if submission.status == S.QUEUED:
        state = preparation.readiness(session, submission.phase_id).state
        if state in (PreparationState.PENDING, PreparationState.PREPARING):
            return f"waiting for the phase's reference models ({state.value})"
    return STAGES[submission.status]


def _attempt_started(session: Session, submission: Submission) -> datetime | None:
    """When a worker first took this attempt (left the queue)."""
    return session.scalar(
        select(SubmissionEvent.at)
        .where(
            SubmissionEvent.submission_id == submission.id,
            SubmissionEvent.attempt == submission.attempt,
            SubmissionEvent.from_status == S.QUEUED,
        )
        .order_by(SubmissionEvent.id)
        .limit(1)
    )


def _remaining(shards: list[ShardRun]) -> float | None:
    """Time left, from the shards the viewer may see only (a team: the public split's), so
    no private run's time enters a figure a team reads."""
    finished = [s for s in shards if s.state == ShardState.DONE and s.seconds]
    if not shards or not finished:
        return None
    per_run = sum(s.seconds or 0.0 for s in finished) / sum(len(s.seeds) for s in finished)
    left = sum(len(s.seeds) - s.seeds_done for s in shards if s.state != ShardState.DONE)
    return per_run * left
