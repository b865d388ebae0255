"""Fault tests with real Redis, real PostgreSQL and real Celery worker processes.

Each test starts its own Redis and database, worker and beat processes running the fake
backend (`pipeline_fakes.SleepyBackend`, one second per seed), and breaks something on
purpose: a worker SIGKILLed mid-shard, Redis restarted with messages queued, two workers on
one evaluation. The database must end with every submission finished and exactly one result
per split. A phase prepared through the broker holds its submissions until it is ready, and
fails them (refunded) when it cannot be prepared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from competition import preparation
from competition.models import FailureCategory, SubmissionStatus
from competition.pipeline_models import PreparationState, ShardState
from tests.worker.cluster import Cluster, cluster
from tests.worker.pipeline_fakes import UNPREPARABLE, expected_score
from tests.worker.services import wait_for
from worker.celery_app import make_celery
from worker.queue import CeleryQueue

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(name="cluster")
def running_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    seconds_per_seed = getattr(request, "param", 1.0)  # indirect: a test's own run time
    with cluster(tmp_path, seconds_per_seed=seconds_per_seed) as running:
        yield running


# Four runs, the estimator's minimum a phase may have, in the time two took at one second each.
QUICK_RUNS = pytest.mark.parametrize("cluster", [0.5], indirect=True)


def test_worker_killed_mid_shard_evaluation_finishes_with_one_result(cluster: Cluster) -> None:
    submission_id = cluster.submit(cluster.phase(replicas=4))
    first = cluster.worker("first")
    cluster.beat()
    cluster.enqueue(submission_id)
    wait_for(
        lambda: any(s.state == ShardState.RUNNING for s in cluster.shards(submission_id)),
        timeout_s=60,
        what="a shard to start",
    )
    first.kill()
    killed = [s.shard for s in cluster.shards(submission_id) if s.state == ShardState.RUNNING]
    cluster.worker("second")
    cluster.wait_finished([submission_id])
    submission = cluster.submission(submission_id)
    assert submission.public_score == pytest.approx(expected_score(4))
    assert cluster.results(submission_id) == 2  # one per split, no duplicate
    tries = {s.shard: s.tries for s in cluster.shards(submission_id) if s.attempt == 1}
    assert all(tries[k] == 2 for k in killed), tries
    executions = (cluster.data_dir / "executions.log").read_text().splitlines()
    assert killed and len(executions) == 4 + len(killed)  # 2 shards per split + the killed


@QUICK_RUNS
def test_redis_restart_with_submissions_queued_loses_none(cluster: Cluster) -> None:
    phase = cluster.phase(replicas=4)
    queued = [cluster.submit(phase) for _ in range(3)]
    for submission_id in queued:
        cluster.enqueue(submission_id)
    cluster.redis.stop()  # no persistence: the three messages are gone
    while_down = cluster.submit(phase)
    cluster.enqueue(while_down)  # broker unreachable: the row stays queued
    cluster.redis.start()
    cluster.worker("only")
    cluster.beat()
    cluster.wait_finished([*queued, while_down])
    assert [cluster.results(i) for i in [*queued, while_down]] == [2, 2, 2, 2]


def test_two_workers_share_the_shards_of_one_evaluation(cluster: Cluster) -> None:
    submission_id = cluster.submit(cluster.phase(replicas=4))
    cluster.worker("left")
    cluster.worker("right")
    cluster.beat()
    cluster.enqueue(submission_id)
    cluster.wait_finished([submission_id])
    holders = {s.holder.rsplit(":", 1)[0] for s in cluster.shards(submission_id)}
    pids = {s.holder for s in cluster.shards(submission_id)}
    assert len(pids) == 2, pids
    assert len(holders) == 1  # same host, two worker processes
    assert cluster.results(submission_id) == 2


@QUICK_RUNS
def test_phase_preparation_through_the_broker_gates_and_then_starts_submissions(
    cluster: Cluster,
) -> None:
    ready_phase = cluster.phase(name="prepared-later", replicas=4, prepared=False)
    broken = cluster.phase(
        name="no-data", replicas=4, prepared=False, dataset=f"{UNPREPARABLE}/srv/absent"
    )
    waiting = cluster.submit(ready_phase)
    doomed = cluster.submit(broken, email="b@b.cd")
    cluster.worker("only")
    # The API's request: the control queue hands both splits to the training queue.
    app = make_celery(cluster.settings)
    try:
        CeleryQueue(app).prepare_phase(ready_phase)
    finally:
        app.close()
    cluster.enqueue(waiting)
    cluster.enqueue(doomed)  # its start sends the preparation itself, which fails
    cluster.wait_finished([waiting])
    with cluster.sessions() as session:
        assert preparation.readiness(session, ready_phase).state == PreparationState.READY

    def doomed_failed() -> bool:
        return cluster.submission(doomed).status == SubmissionStatus.FAILED

    wait_for(doomed_failed, timeout_s=60, what="the unpreparable phase's submission to fail")
    assert cluster.submission(doomed).failure_category == FailureCategory.PHASE_UNAVAILABLE
    with cluster.sessions() as session:
        ready = preparation.readiness(session, broken)
    assert ready.state == PreparationState.FAILED and "/srv/absent" in ready.error
