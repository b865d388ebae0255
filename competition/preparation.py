"""Whether a phase can run: the preparation of its reference models, per leaderboard split.

Before a submission runs, each split needs its original model and N retrained references
(trained once, cached by content hash). A `PhasePreparation` row per (phase, split) records
how far that got, so that nobody waits on a phase that cannot run:

    pending --claim--> preparing --finish--> ready
                          |  `--fail-----> failed (with the reason, for organizers)
                          `-- lease expired: claimable again (the worker died)

`reset` puts both splits back to pending (a new phase, an edit of what training depends on,
or an organizer's "prepare again" after fixing the cause). A phase without rows reads as
pending (created before this table existed). Who acts on the states: the upload refuses a
failed phase (`PhaseUnavailable`, nothing charged), the workers hold queued submissions of
a phase until it is ready and fail them as a system error (refunded) when it fails.

Claims carry a token (`holder`): a worker whose claim was reset or taken over can no longer
write, so a stale preparation never marks an edited phase ready.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from competition import lifecycle
from competition.models import FailureCategory, Submission, SubmissionStatus, utcnow
from competition.pipeline_models import PhasePreparation, PreparationState

logger = logging.getLogger(__name__)

__all__ = [
    "Readiness",
    "SplitReadiness",
    "UNAVAILABLE_MESSAGE",
    "claim",
    "fail",
    "fail_waiting",
    "finish",
    "queued_submissions",
    "readiness",
    "renew",
    "reset",
    "stuck",
]

P = PreparationState
ERROR_CHARS = 4000  # a traceback's last line is what says why; keep the row small
UNAVAILABLE_MESSAGE = (
    "this phase's reference models could not be prepared on our side, so your submission "
    "was not run; the organizers have been told and your quota is refunded. Submit again "
    "once the phase page shows the phase ready."
)


@dataclass(frozen=True)
class SplitReadiness:
    split: str
    state: PreparationState
    stage: str = ""
    done: int = 0
    total: int = 0
    error: str = ""
    retrain_seconds: float | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Readiness:
    """Both splits' preparation; `state` is the phase's: failed > preparing > pending > ready."""

    splits: tuple[SplitReadiness, ...]

    @property
    def state(self) -> PreparationState:
        states = {split.state for split in self.splits}
        for state in (P.FAILED, P.PREPARING, P.PENDING):
            if state in states:
                return state
        return P.READY

    @property
    def error(self) -> str:
        return "\n".join(f"{s.split}: {s.error}" for s in self.splits if s.state == P.FAILED)


def readiness(session: Session, phase_id: int) -> Readiness:
    rows = _rows(session, phase_id)
    return Readiness(
        tuple(
            SplitReadiness(split, P.PENDING)
            if (row := rows.get(split)) is None
            else SplitReadiness(
                split=split,
                state=row.state,
                stage=row.stage,
                done=row.done,
                total=row.total,
                error=row.error,
                retrain_seconds=row.retrain_seconds,
                updated_at=row.updated_at,
            )
            for split in lifecycle.SPLITS
        )
    )


def reset(session: Session, phase_id: int) -> None:
    """Both splits back to pending, whatever they were; the caller commits."""
    existing = _rows(session, phase_id)
    now = utcnow()
    for split in lifecycle.SPLITS:
        row = existing.get(split) or PhasePreparation(phase_id=phase_id, split=split)
        row.state, row.stage, row.done, row.total = P.PENDING, "", 0, 0
        row.error, row.holder, row.lease_until, row.updated_at = "", "", None, now
        row.retrain_seconds = None
        session.add(row)


def claim(
    session: Session,
    *,
    phase_id: int,
    split: str,
    holder: str,
    lease_s: float,
    now: datetime | None = None,
) -> bool:
    """Take the split's preparation when it is pending, or preparing under an expired lease.

    Commits. False: it is ready, failed (an organizer must prepare again), or held.
    """
    now = now or utcnow()
    for _ in range(2):  # a concurrent first claim may insert the row first: look again
        row = _locked(session, phase_id, split)
        if row is None:
            row = PhasePreparation(phase_id=phase_id, split=split, state=P.PENDING)
            session.add(row)
        claimable = row.state == P.PENDING or (
            row.state == P.PREPARING and (row.lease_until is None or row.lease_until < now)
        )
        if not claimable:
            session.rollback()
            return False
        if row.state == P.PREPARING:
            logger.warning("phase %d %s: preparation by %s lost", phase_id, split, row.holder)
        row.state, row.holder, row.error = P.PREPARING, holder, ""
        row.lease_until, row.updated_at = now + timedelta(seconds=lease_s), now
        try:
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
    return False


def renew(
    session: Session,
    *,
    phase_id: int,
    split: str,
    holder: str,
    lease_s: float,
    progress: tuple[str, int, int] | None = None,
) -> bool:
    """Push the lease forward (and record `(stage, done, total)`); False once not the holder."""
    now = utcnow()
    values: dict[str, object] = {"lease_until": now + timedelta(seconds=lease_s), "updated_at": now}
    if progress is not None:
        values.update(zip(("stage", "done", "total"), progress, strict=True))
    result = session.execute(
        update(PhasePreparation)
        .where(*_held(phase_id, split, holder))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(
    session: Session, *, phase_id: int, split: str, holder: str, retrain_seconds: float | None
) -> Readiness:
    """Mark the split ready (ignored when the claim was reset meanwhile); commits."""
    session.execute(
        update(PhasePreparation)
        .where(*_held(phase_id, split, holder))
        .values(
            state=P.READY,
            retrain_seconds=retrain_seconds,
            lease_until=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return readiness(session, phase_id)


def fail(session: Session, *, phase_id: int, split: str, holder: str, error: str) -> bool:
    """Mark the split failed with the reason; False when the claim was reset meanwhile."""
    result = session.execute(
        update(PhasePreparation)
        .where(*_held(phase_id, split, holder))
        .values(state=P.FAILED, error=error[-ERROR_CHARS:], lease_until=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail_waiting(session: Session, phase_id: int) -> list[int]:
    """Fail every submission waiting on the phase as a system error (quota refunded).

    Only queued ones wait: the workers start nothing else before the phase is ready, and an
    evaluation already under way keeps the reference it started with.
    """
    waiting = session.execute(
        select(Submission.id, Submission.attempt).where(*_queued(phase_id))
    ).all()
    for submission_id, attempt in waiting:
        lifecycle.mark_failed(
            session,
            submission_id=submission_id,
            attempt=attempt,
            category=FailureCategory.PHASE_UNAVAILABLE,
            message=UNAVAILABLE_MESSAGE,
            system_error=True,
        )
    return [submission_id for submission_id, _ in waiting]


def queued_submissions(session: Session, phase_id: int) -> list[int]:
    """Queued submissions of the phase, oldest first (to start once it is ready)."""
    return list(
        session.scalars(select(Submission.id).where(*_queued(phase_id)).order_by(Submission.id))
    )


def stuck(
    session: Session, *, grace_s: float, now: datetime | None = None
) -> list[tuple[int, str]]:
    """(phase, split) whose preparation message was lost (pending for `grace_s`) or whose
    worker died (preparing past its lease): the reconciler sends them again."""
    now = now or utcnow()
    rows = session.execute(
        select(PhasePreparation.phase_id, PhasePreparation.split).where(
            or_(
                (PhasePreparation.state == P.PENDING)
                & (PhasePreparation.updated_at <= now - timedelta(seconds=grace_s)),
                (PhasePreparation.state == P.PREPARING) & (PhasePreparation.lease_until < now),
            )
        )
    ).all()
    return [(phase_id, split) for phase_id, split in rows]


def _rows(session: Session, phase_id: int) -> dict[str, PhasePreparation]:
    """The phase's rows by split (a split without one reads as pending)."""
    query = select(PhasePreparation).where(PhasePreparation.phase_id == phase_id)
    return {row.split: row for row in session.scalars(query)}


def _queued(phase_id: int) -> tuple[ColumnElement[bool], ...]:
    return (Submission.phase_id == phase_id, Submission.status == SubmissionStatus.QUEUED)


def _held(phase_id: int, split: str, holder: str) -> tuple[ColumnElement[bool], ...]:
    return (
        PhasePreparation.phase_id == phase_id,
        PhasePreparation.split == split,
        PhasePreparation.holder == holder,
        PhasePreparation.state == P.PREPARING,
    )


def _locked(session: Session, phase_id: int, split: str) -> PhasePreparation | None:
    # The no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite (as
    # `records.lock_submission`), so two workers cannot both claim one split.
    session.execute(
        update(PhasePreparation)
        .where(PhasePreparation.phase_id == phase_id, PhasePreparation.split == split)
        .values(updated_at=PhasePreparation.updated_at)
        .execution_options(synchronize_session=False)
    )
    return session.scalar(
        select(PhasePreparation)
        .where(PhasePreparation.phase_id == phase_id, PhasePreparation.split == split)
        .execution_options(populate_existing=True)
    )
