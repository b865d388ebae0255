"""Fault tests with real Redis, real PostgreSQL and real Celery worker processes.

Each test starts its own Redis and database, worker and beat processes running the fake
backend (`pipeline_fakes.SleepyBackend`, one second per seed), and breaks something on
purpose: a worker SIGKILLed mid-shard, Redis restarted with messages queued, two workers on
one evaluation. The database must end with every submission finished and exactly one result
per split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.db import make_engine, make_sessionmaker, upgrade_to_head
from api.models import Result, SubmissionStatus
from tests.worker.factories import FAKE_BACKEND, Pipeline
from tests.worker.pipeline_fakes import expected_score
from tests.worker.services import (
    CeleryProcess,
    PostgresDatabase,
    RedisServer,
    beat,
    child_env,
    wait_for,
    worker,
)
from worker.artifacts import ArtifactStore
from worker.celery_app import make_celery
from worker.config import PipelineSettings
from worker.models import ShardRun, ShardState
from worker.queue import CeleryQueue

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Cluster(Pipeline):
    redis: RedisServer = None  # type: ignore[assignment]
    env: dict[str, str] = field(default_factory=dict)
    settings: PipelineSettings = None  # type: ignore[assignment]
    processes: list[CeleryProcess] = field(default_factory=list)

    def worker(self, name: str) -> CeleryProcess:
        self.processes.append(worker(self.env, name=name, log_dir=self.data_dir))
        return self.processes[-1]

    def beat(self) -> CeleryProcess:
        self.processes.append(beat(self.env, log_dir=self.data_dir))
        return self.processes[-1]

    def enqueue(self, submission_id: int) -> None:
        app = make_celery(self.settings)
        try:
            CeleryQueue(app).enqueue(submission_id)
        finally:
            app.close()

    def wait_finished(self, submission_ids: list[int], timeout_s: float = 120) -> None:
        def finished() -> bool:
            states = [self.submission(i).status for i in submission_ids]
            assert SubmissionStatus.FAILED not in states, self.logs()
            return all(state == SubmissionStatus.FINISHED for state in states)

        try:
            wait_for(finished, timeout_s=timeout_s, what="evaluations to finish")
        except TimeoutError:
            raise AssertionError(self.logs()) from None

    def shards(self, submission_id: int) -> list[ShardRun]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(ShardRun)
                    .where(ShardRun.submission_id == submission_id)
                    .order_by(ShardRun.attempt, ShardRun.shard)
                )
            )

    def results(self, submission_id: int) -> int:
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Result)
                    .where(Result.submission_id == submission_id)
                )
                or 0
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.data_dir.glob("*.log")
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    database = PostgresDatabase()
    database.create()
    settings = {
        "data_dir": str(tmp_path),
        "database_url": database.url,
        "broker_url": redis.url,
        "result_backend": redis.url.replace("/0", "/1"),
        "evaluation_backend": FAKE_BACKEND,
        "sandbox": "local",
        "shard_size": "2",
        "lease_s": "4",
        "heartbeat_s": "1",
        "reconcile_every_s": "2",
        "queued_grace_s": "3",
        "shard_time_limit_s": "60",
        "max_attempts": "3",
    }
    env = child_env({f"UNLEARN_{k.upper()}": v for k, v in settings.items()})
    env["UNLEARN_TEST_SECONDS_PER_SEED"] = "1"
    upgrade_to_head(database.url)
    engine = make_engine(database.url)
    cluster = Cluster(
        data_dir=tmp_path,
        sessions=make_sessionmaker(engine),
        store=ArtifactStore(str(tmp_path / "artifacts")),
        redis=redis,
        env=env,
        settings=PipelineSettings(**settings),  # type: ignore[arg-type]
    )
    try:
        yield cluster
    finally:
        for process in cluster.processes:
            process.stop()
        redis.stop()
        engine.dispose()
        database.drop()


def test_worker_killed_mid_shard_evaluation_finishes_with_one_result(cluster: Cluster) -> None:
    submission_id = cluster.submit(cluster.phase(replicas=6))
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
    assert submission.public_score == pytest.approx(expected_score(6))
    assert cluster.results(submission_id) == 2  # one per split, no duplicate
    tries = {s.shard: s.tries for s in cluster.shards(submission_id) if s.attempt == 1}
    assert all(tries[k] == 2 for k in killed), tries
    executions = (cluster.data_dir / "executions.log").read_text().splitlines()
    assert len(executions) == 3 + len(killed)


def test_redis_restart_with_submissions_queued_loses_none(cluster: Cluster) -> None:
    phase = cluster.phase(replicas=2)
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
    submission_id = cluster.submit(cluster.phase(replicas=8))
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
