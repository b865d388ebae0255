"""Heartbeats keep a live holder's lease; the organizers' worker list sees the holder."""

from __future__ import annotations

import time

from competition.models import Worker
from competition.pipeline_models import EvaluationLease, ShardRun
from tests.worker.factories import Pipeline
from tests.worker.test_reconcile import _claim, _running
from worker import leases


def test_heartbeat_renews_shard_and_evaluation_leases_and_reports_the_worker(
    pipeline: Pipeline,
) -> None:
    submission_id = _running(pipeline)
    _claim(pipeline, submission_id, 0, holder="host:7")
    with pipeline.sessions() as session:
        before = session.query(ShardRun).filter_by(shard=0).one().lease_until
    beat = leases.Heartbeat(
        pipeline.sessions,
        submission_id=submission_id,
        attempt=1,
        shard=0,
        holder="host:7",
        lease_s=4,
        every_s=0.2,
    )
    with beat:
        time.sleep(1.0)
    with pipeline.sessions() as session:
        shard = session.query(ShardRun).filter_by(shard=0).one()
        lease = session.query(EvaluationLease).one()
        worker = session.query(Worker).filter_by(hostname="host:7").one()
    assert shard.lease_until > before
    assert lease.holder == "host:7" and lease.lease_until >= shard.lease_until
    assert worker.current_submission_id == submission_id


def test_heartbeat_of_another_holder_does_not_extend_the_shard(pipeline: Pipeline) -> None:
    submission_id = _running(pipeline)
    _claim(pipeline, submission_id, 1, holder="owner:1")
    with pipeline.sessions() as session:
        before = session.query(ShardRun).filter_by(shard=1).one().lease_until
    leases.Heartbeat(
        pipeline.sessions,
        submission_id=submission_id,
        attempt=1,
        shard=1,
        holder="intruder:2",
        lease_s=60,
        every_s=1,
    ).beat()
    with pipeline.sessions() as session:
        assert session.query(ShardRun).filter_by(shard=1).one().lease_until == before
