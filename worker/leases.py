"""Leases, heartbeats and attempt fencing: how the database, not the broker, holds the truth.

Every piece of work is named by (submission, attempt[, shard]). A worker may only act on
the submission's *current* attempt; once the reconciler moves a submission to attempt + 1,
anything still running for the old attempt finds out at its next write and drops its work.
A shard is claimed with one conditional UPDATE (pending, or running under a lease that has
expired), so two deliveries of one message never both run it; a live holder keeps its lease
with a `Heartbeat` thread. Writes use the Python clock in UTC: keep machines on NTP.

Inputs: a SQLAlchemy `Session` (or sessionmaker for the heartbeat thread) and ids.
Outputs: claim verdicts, shard progress, and the rows the reconciler inspects.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from competition import lifecycle
from competition.models import Result, Submission, SubmissionStatus, utcnow
from competition.pipeline_models import EvaluationLease, ShardRun, ShardState
from harness.report.schema import EvaluationReport

logger = logging.getLogger(__name__)

__all__ = [
    "Claim",
    "Heartbeat",
    "Periodic",
    "begin_attempt",
    "claim_shard",
    "finish_shard",
    "is_current",
    "record_seeds_done",
    "release_shard",
    "shard_plan",
    "private_runs",
    "shard_progress",
    "stage",
    "stage_progress",
    "touch_evaluation",
]

IN_PROGRESS = (SubmissionStatus.SANITY_CHECK, SubmissionStatus.RUNNING, SubmissionStatus.SCORING)


class Claim(enum.StrEnum):
    CLAIMED = "claimed"  # this holder runs the shard now
    DONE = "done"  # already finished: nothing to do
    BUSY = "busy"  # a live holder has it; the reconciler steps in if it dies
    STALE = "stale"  # the submission moved on (new attempt, failed, cancelled)


def is_current(session: Session, *, submission_id: int, attempt: int) -> bool:
    """True while `attempt` is the submission's attempt and the evaluation is in progress."""
    row = session.execute(
        select(Submission.attempt, Submission.status).where(Submission.id == submission_id)
    ).one_or_none()
    return row is not None and row.attempt == attempt and row.status in IN_PROGRESS


def begin_attempt(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    shards: Sequence[tuple[str, Sequence[int]]],
    holder: str,
    lease_s: float,
) -> None:
    """Record the shard plan of an attempt (idempotent: a replay keeps the first plan)."""
    exists = session.scalar(
        select(EvaluationLease.id).where(
            EvaluationLease.submission_id == submission_id, EvaluationLease.attempt == attempt
        )
    )
    if exists is None:
        session.add(
            EvaluationLease(
                submission_id=submission_id,
                attempt=attempt,
                shards_total=len(shards),
                holder=holder,
                lease_until=utcnow() + timedelta(seconds=lease_s),
            )
        )
        for index, (split, seeds) in enumerate(shards):
            session.add(
                ShardRun(
                    submission_id=submission_id,
                    attempt=attempt,
                    shard=index,
                    split=split,
                    seeds=list(seeds),
                )
            )
    session.commit()


def touch_evaluation(
    session: Session, *, submission_id: int, attempt: int, holder: str, lease_s: float
) -> None:
    """Push the evaluation's lease forward: someone is working on it."""
    session.execute(
        update(EvaluationLease)
        .where(EvaluationLease.submission_id == submission_id, EvaluationLease.attempt == attempt)
        .values(lease_until=utcnow() + timedelta(seconds=lease_s), holder=holder)
    )
    session.commit()


def _shard(submission_id: int, attempt: int, shard: int) -> tuple[ColumnElement[bool], ...]:
    """The WHERE clauses that pick one shard of one attempt."""
    return (
        ShardRun.submission_id == submission_id,
        ShardRun.attempt == attempt,
        ShardRun.shard == shard,
    )


def claim_shard(
    session: Session, *, submission_id: int, attempt: int, shard: int, holder: str, lease_s: float
) -> Claim:
    """Take the shard if it is free (pending or its holder's lease expired)."""
    if not is_current(session, submission_id=submission_id, attempt=attempt):
        session.rollback()
        return Claim.STALE
    now = utcnow()
    key = _shard(submission_id, attempt, shard)
    taken = session.execute(
        update(ShardRun)
        .where(*key, ShardRun.state != ShardState.DONE)
        .where(or_(ShardRun.state == ShardState.PENDING, ShardRun.lease_until < now))
        .values(
            state=ShardState.RUNNING,
            holder=holder,
            lease_until=now + timedelta(seconds=lease_s),
            tries=ShardRun.tries + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        session.commit()
        return Claim.CLAIMED
    state = session.scalar(select(ShardRun.state).where(*key))
    session.rollback()
    if state is None:
        return Claim.STALE
    return Claim.DONE if state == ShardState.DONE else Claim.BUSY


def shard_plan(
    session: Session, *, submission_id: int, attempt: int, shard: int
) -> tuple[str, list[int]]:
    """(split, seeds) of one shard, as planned when the attempt began."""
    row = session.execute(
        select(ShardRun.split, ShardRun.seeds).where(*_shard(submission_id, attempt, shard))
    ).one()
    return str(row.split), [int(seed) for seed in row.seeds]


def finish_shard(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    shard: int,
    output_key: str,
    seconds: float,
) -> tuple[int, int]:
    """Mark the shard done (first writer wins); returns (shards done, shards total)."""
    session.execute(
        update(ShardRun)
        .where(*_shard(submission_id, attempt, shard), ShardRun.state != ShardState.DONE)
        .values(state=ShardState.DONE, output_key=output_key, seconds=seconds, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return shard_progress(session, submission_id=submission_id, attempt=attempt)


def record_seeds_done(
    session: Session, *, submission_id: int, attempt: int, shard: int, done: int
) -> None:
    """How many of a running shard's runs have finished (the live page's progress)."""
    session.execute(
        update(ShardRun)
        .where(*_shard(submission_id, attempt, shard), ShardRun.state == ShardState.RUNNING)
        .values(seeds_done=done)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def release_shard(
    session: Session, *, submission_id: int, attempt: int, shard: int, holder: str
) -> None:
    """Give a shard up after an error of ours: its lease ends now, so it can be re-sent."""
    session.execute(
        update(ShardRun)
        .where(
            *_shard(submission_id, attempt, shard),
            ShardRun.holder == holder,
            ShardRun.state == ShardState.RUNNING,
        )
        .values(lease_until=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


def shard_progress(session: Session, *, submission_id: int, attempt: int) -> tuple[int, int]:
    """(shards done, shards planned) for one attempt; (0, 0) before the plan exists."""
    total = session.scalar(
        select(EvaluationLease.shards_total).where(
            EvaluationLease.submission_id == submission_id, EvaluationLease.attempt == attempt
        )
    )
    done = session.scalar(
        select(func.count())
        .select_from(ShardRun)
        .where(
            ShardRun.submission_id == submission_id,
            ShardRun.attempt == attempt,
            ShardRun.state == ShardState.DONE,
        )
    )
    return int(done or 0), int(total or 0)


def stage(session: Session, *, submission_id: int, attempt: int) -> str:
    """The split an attempt runs now: "public" until its public result is stored, then
    "private". The private split runs only after the public result is final, so nothing the
    private runs do (their time, their failure) can move what the team sees of the public one.
    """
    public_done = session.scalar(
        select(Result.id).where(
            Result.submission_id == submission_id,
            Result.attempt == attempt,
            Result.split == "public",
        )
    )
    return "private" if public_done is not None else "public"


def stage_progress(
    session: Session, *, submission_id: int, attempt: int, split: str, below: int | None = None
) -> tuple[int, int]:
    """(shards done, shards planned) of one split, counting only shards whose seeds are all
    below `below` (a racing stop at n runs the other split's first n seeds only)."""
    rows = session.execute(
        select(ShardRun.state, ShardRun.seeds).where(
            ShardRun.submission_id == submission_id,
            ShardRun.attempt == attempt,
            ShardRun.split == split,
        )
    ).all()
    counted = [row for row in rows if below is None or max(row.seeds) < below]
    return sum(row.state == ShardState.DONE for row in counted), len(counted)


def private_runs(session: Session, *, submission_id: int, attempt: int) -> int:
    """How many runs the private split takes: as many as the public result stands on (a
    racing stop at n < N runs the private split's first n seeds, seed for seed)."""
    report = session.scalar(
        select(Result.report).where(
            Result.submission_id == submission_id,
            Result.attempt == attempt,
            Result.split == "public",
        )
    )
    race = None if report is None else EvaluationReport.model_validate(report).racing
    if race is not None and race.provisional:
        return race.n
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise ValueError(f"no submission {submission_id}")
    return submission.phase.config.replicas


class Periodic:
    """A daemon thread that calls `beat()` every `every_s` seconds until closed.

    Use as a context manager around the work; a failed beat is logged and the next one tried.
    """

    def __init__(self, *, every_s: float, name: str) -> None:
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self) -> Periodic:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.beat()
            except Exception:  # a missed beat is survivable; the lease has slack for one
                logger.exception("%s: beat failed", self._thread.name)

    def beat(self) -> None:
        raise NotImplementedError


class Heartbeat(Periodic):
    """Renews a holder's leases every `every_s` seconds until closed.

    Use as a context manager around the work. It renews the shard's lease (when `shard` is
    given) and the evaluation's lease.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        submission_id: int,
        attempt: int,
        holder: str,
        lease_s: float,
        every_s: float,
        shard: int | None = None,
    ) -> None:
        super().__init__(every_s=every_s, name="lease-heartbeat")
        self._sessions = sessions
        self._ids = (submission_id, attempt, shard)
        self._holder = holder
        self._lease_s = lease_s

    def beat(self) -> None:
        submission_id, attempt, shard = self._ids
        until = utcnow() + timedelta(seconds=self._lease_s)
        with self._sessions() as session:
            if shard is not None:
                session.execute(
                    update(ShardRun)
                    .where(
                        *_shard(submission_id, attempt, shard),
                        ShardRun.holder == self._holder,
                        ShardRun.state == ShardState.RUNNING,
                    )
                    .values(lease_until=until)
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(EvaluationLease)
                .where(
                    EvaluationLease.submission_id == submission_id,
                    EvaluationLease.attempt == attempt,
                )
                .values(lease_until=until, holder=self._holder)
                .execution_options(synchronize_session=False)
            )
            # Worker liveness for the organizers' dashboard (`workers` table).
            lifecycle.heartbeat(session, hostname=self._holder, submission_id=submission_id)
