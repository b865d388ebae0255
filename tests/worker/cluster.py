"""A whole pipeline on loopback for the fault and end-to-end tests: `Cluster` and `cluster()`.

A private Redis, a fresh PostgreSQL database migrated to head, a data folder, and helpers to
start worker, beat and API processes (`tests.worker.services`), submit, and wait. Everything
it starts is stopped, and the database dropped, when the context exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from competition.artifacts import ArtifactStore
from competition.db import make_engine, make_sessionmaker, upgrade_to_head
from competition.models import Result, SubmissionStatus
from competition.pipeline_models import ShardRun
from competition.settings import PipelineSettings
from tests.worker.factories import FAKE_BACKEND, Pipeline
from tests.worker.services import (
    ManagedProcess,
    PostgresDatabase,
    RedisServer,
    api_server,
    beat,
    child_env,
    free_port,
    wait_for,
    worker,
)
from worker.celery_app import make_celery
from worker.queue import CeleryQueue


@dataclass
class Cluster(Pipeline):
    redis: RedisServer = None  # type: ignore[assignment]
    env: dict[str, str] = field(default_factory=dict)
    settings: PipelineSettings = None  # type: ignore[assignment]
    processes: list[ManagedProcess] = field(default_factory=list)
    api_port: int = 0

    def worker(self, name: str) -> ManagedProcess:
        self.processes.append(worker(self.env, name=name, log_dir=self.data_dir))
        return self.processes[-1]

    def api(self) -> ManagedProcess:
        self.api_port = self.api_port or free_port()
        self.processes.append(api_server(self.env, port=self.api_port, log_dir=self.data_dir))
        return self.processes[-1]

    def beat(self) -> ManagedProcess:
        self.processes.append(beat(self.env, log_dir=self.data_dir))
        return self.processes[-1]

    def send(self, task: str, *, queue: str = "control", **kwargs: object) -> None:
        """Send a task by name through this cluster's broker."""
        app = make_celery(self.settings)
        try:
            app.signature(task, kwargs=kwargs).apply_async(queue=queue)
        finally:
            app.close()

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


@contextmanager
def cluster(
    tmp_path: Path, *, seconds_per_seed: float = 1.0, **overrides: str
) -> Iterator[Cluster]:
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
    settings.update(overrides)
    env = child_env({f"UNLEARN_{k.upper()}": v for k, v in settings.items()})
    env["UNLEARN_TEST_SECONDS_PER_SEED"] = str(seconds_per_seed)
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
