"""Find evaluations that a lost message or a dead worker left stuck, and decide what to re-send.

The database is the durable record; the broker only carries work. `find_stuck` compares the
rows with the clock and returns the messages to send again. It never runs work itself, and
re-sending is always safe: every task checks state and attempt before acting.

Rules, for the submission's current attempt:
- queued for longer than `queued_grace_s`: the start message was lost -> `start`.
- in progress without a lease row, quiet for `lease_s`: the claimer died -> retry (attempt + 1).
- a running shard whose holder's lease expired: -> back to pending and re-send it, unless it
  already took `max_attempts` tries (a poison shard) -> retry the whole attempt.
- the evaluation's lease expired (nobody has beaten for `lease_s`):
  sanity_check -> re-send `run_sanity`; scoring, or running with every shard done ->
  re-send `finish_evaluation`; each counts as a recovery, and past `max_attempts`
  recoveries the attempt is retried.
- pending shards and nobody has beaten for the broker's visibility timeout: their messages
  were lost (e.g. Redis restarted without persistence) -> re-send them.
A retry past `max_attempts` attempts fails the submission as a system error (quota refunded).
- a phase's split pending for `queued_grace_s`, or preparing past its lease: its preparation
  message was lost or its worker died -> `prepare` (`competition.preparation.stuck`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from competition import preparation
from competition.models import Submission, SubmissionStatus, utcnow
from competition.pipeline_models import EvaluationLease, ShardRun, ShardState
from competition.settings import PipelineSettings
from worker import leases
from worker.leases import IN_PROGRESS
from worker.recovery import retry_or_fail

logger = logging.getLogger(__name__)

__all__ = ["Resend", "find_stuck"]

S = SubmissionStatus


@dataclass
class Resend:
    """Messages to send again, by kind: ids of submissions or (submission, attempt[, shard])."""

    start: list[int] = field(default_factory=list)
    sanity: list[tuple[int, int]] = field(default_factory=list)
    shards: list[tuple[int, int, int]] = field(default_factory=list)
    finish: list[tuple[int, int]] = field(default_factory=list)
    prepare: list[tuple[int, str]] = field(default_factory=list)  # (phase, split)

    def __bool__(self) -> bool:
        return bool(self.start or self.sanity or self.shards or self.finish or self.prepare)


def find_stuck(
    session: Session, *, settings: PipelineSettings, now: datetime | None = None
) -> Resend:
    now = now or utcnow()
    resend = Resend()
    queued_before = now - timedelta(seconds=settings.queued_grace_s)
    resend.start += session.scalars(
        select(Submission.id).where(
            Submission.status == S.QUEUED, Submission.updated_at <= queued_before
        )
    ).all()
    active = session.execute(
        select(Submission.id, Submission.attempt, Submission.status, Submission.updated_at).where(
            Submission.status.in_(IN_PROGRESS)
        )
    ).all()
    for row in active:
        if _check_one(session, row, settings=settings, now=now, resend=resend):
            resend.start.append(row.id)
    session.commit()
    resend.prepare = preparation.stuck(session, grace_s=settings.queued_grace_s, now=now)
    return resend


def _check_one(
    session: Session, row: Any, *, settings: PipelineSettings, now: datetime, resend: Resend
) -> bool:
    """Inspect one in-progress submission; True when it was re-queued as a new attempt."""
    ids = {"submission_id": row.id, "attempt": row.attempt}
    lease = session.scalar(
        select(EvaluationLease).where(
            EvaluationLease.submission_id == row.id, EvaluationLease.attempt == row.attempt
        )
    )
    retry = {**ids, "max_attempts": settings.max_attempts}
    if lease is None:
        if row.updated_at <= now - timedelta(seconds=settings.lease_s):
            session.commit()
            return retry_or_fail(session, **retry, reason="claimed but never planned")
        return False
    # Only the current stage's shards: the private split must not start before the public
    # result is stored (`leases.stage`), and it runs the first n seeds a race stopped at.
    split = leases.stage(session, **ids)
    below = leases.private_runs(session, **ids) if split == "private" else None
    shards = [
        shard
        for shard in session.scalars(
            select(ShardRun).where(
                ShardRun.submission_id == row.id,
                ShardRun.attempt == row.attempt,
                ShardRun.split == split,
            )
        ).all()
        if below is None or max(shard.seeds) < below
    ]
    for shard in shards:
        if shard.state == ShardState.RUNNING and shard.lease_until and shard.lease_until < now:
            if shard.tries >= settings.max_attempts:
                session.commit()
                reason = f"shard {shard.shard} lost its worker {shard.tries} times"
                return retry_or_fail(session, **retry, reason=reason)
            logger.warning("submission %d: shard %d lost %s", row.id, shard.shard, shard.holder)
            shard.state = ShardState.PENDING
            lease.lease_until = now + timedelta(seconds=settings.lease_s)
            resend.shards.append((row.id, row.attempt, shard.shard))
    if lease.lease_until >= now:
        return False
    all_done = all(shard.state == ShardState.DONE for shard in shards)
    quiet_for = (now - lease.lease_until).total_seconds() + settings.lease_s
    if row.status == S.RUNNING and not all_done:
        if quiet_for >= settings.resolved_visibility_timeout_s:
            lease.lease_until = now + timedelta(seconds=settings.lease_s)
            resend.shards += [
                (row.id, row.attempt, s.shard) for s in shards if s.state == ShardState.PENDING
            ]
        return False
    lease.recoveries += 1
    lease.lease_until = now + timedelta(seconds=settings.lease_s)
    if lease.recoveries > settings.max_attempts:
        session.commit()
        return retry_or_fail(
            session, **retry, reason=f"{row.status} stalled {lease.recoveries} times"
        )
    (resend.sanity if row.status == S.SANITY_CHECK else resend.finish).append((row.id, row.attempt))
    return False
