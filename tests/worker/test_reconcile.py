"""The reconciler's decisions, with the clock moved by hand (no broker, no worker)."""

from __future__ import annotations

from datetime import timedelta

from competition import lifecycle
from competition.models import FailureCategory, SubmissionStatus, utcnow
from competition.pipeline_models import ShardRun, ShardState
from tests.worker.factories import Pipeline
from worker import leases
from worker.context import get_context
from worker.reconcile import find_stuck
from worker.recovery import plan_shards


def _running(pipeline: Pipeline, replicas: int = 4) -> int:
    """A submission claimed, past its sanity check, with its shards planned."""
    submission_id = pipeline.submit(pipeline.phase(replicas=replicas, sanity=False))
    with pipeline.sessions() as session:
        lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w")
        leases.begin_attempt(
            session,
            submission_id=submission_id,
            attempt=1,
            holder="w",
            lease_s=4,
            shards=plan_shards(replicas, 2),
        )
    return submission_id


def _claim(pipeline: Pipeline, submission_id: int, shard: int, holder: str = "w:1") -> None:
    with pipeline.sessions() as session:
        claim = leases.claim_shard(
            session, submission_id=submission_id, attempt=1, shard=shard, holder=holder, lease_s=4
        )
    assert claim is leases.Claim.CLAIMED


def test_find_stuck_resends_queued_submission_only_after_grace(pipeline: Pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase())
    settings = get_context().settings.model_copy(update={"queued_grace_s": 60})
    with pipeline.sessions() as session:
        assert find_stuck(session, settings=settings).start == []
        later = utcnow() + timedelta(seconds=61)
        assert find_stuck(session, settings=settings, now=later).start == [submission_id]


def test_claim_shard_refuses_a_live_holder_and_takes_over_an_expired_one(
    pipeline: Pipeline,
) -> None:
    submission_id = _running(pipeline)
    _claim(pipeline, submission_id, 0, holder="dead:1")
    with pipeline.sessions() as session:
        busy = leases.claim_shard(
            session, submission_id=submission_id, attempt=1, shard=0, holder="b:2", lease_s=4
        )
        assert busy is leases.Claim.BUSY
        resend = find_stuck(
            session, settings=get_context().settings, now=utcnow() + timedelta(seconds=5)
        )
        assert resend.shards == [(submission_id, 1, 0)]
        row = session.query(ShardRun).filter_by(submission_id=submission_id, shard=0).one()
        assert row.state == ShardState.PENDING and row.tries == 1
    _claim(pipeline, submission_id, 0, holder="b:2")


def test_poison_shard_retries_the_attempt_then_fails_as_system_error(pipeline: Pipeline) -> None:
    submission_id = _running(pipeline)
    settings = get_context().settings.model_copy(update={"max_attempts": 2})
    for attempt in (1, 2):
        with pipeline.sessions() as session:
            if attempt == 2:
                lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w")
                leases.begin_attempt(
                    session,
                    submission_id=submission_id,
                    attempt=2,
                    holder="w",
                    lease_s=4,
                    shards=plan_shards(4, 2),
                )
            for _ in range(settings.max_attempts):  # the shard kills its worker every time
                assert (
                    leases.claim_shard(
                        session,
                        submission_id=submission_id,
                        attempt=attempt,
                        shard=0,
                        holder="w:1",
                        lease_s=4,
                    )
                    is leases.Claim.CLAIMED
                )
                resend = find_stuck(session, settings=settings, now=utcnow() + timedelta(seconds=5))
        status = pipeline.submission(submission_id)
        if attempt == 1:
            assert resend.start == [submission_id] and status.attempt == 2
            assert status.status == SubmissionStatus.QUEUED
    assert status.status == SubmissionStatus.FAILED
    assert status.failure_category == FailureCategory.WORKER_LOST


def test_stale_attempt_cannot_claim_or_finish_the_new_one(pipeline: Pipeline) -> None:
    submission_id = _running(pipeline)
    with pipeline.sessions() as session:
        lifecycle.requeue_for_retry(session, submission_id=submission_id, attempt=1, reason="test")
        assert (
            leases.claim_shard(
                session, submission_id=submission_id, attempt=1, shard=1, holder="w", lease_s=4
            )
            is leases.Claim.STALE
        )


def test_all_shards_done_but_callback_lost_resends_scoring(pipeline: Pipeline) -> None:
    submission_id = _running(pipeline, replicas=4)
    with pipeline.sessions() as session:
        for shard in (0, 1):
            _claim(pipeline, submission_id, shard)
            leases.finish_shard(
                session,
                submission_id=submission_id,
                attempt=1,
                shard=shard,
                output_key="k",
                seconds=1.0,
            )
        resend = find_stuck(
            session, settings=get_context().settings, now=utcnow() + timedelta(seconds=10)
        )
    assert resend.finish == [(submission_id, 1)]
