"""Settings of the evaluation pipeline: the server's `Settings` plus broker, store and timing.

Input: the same sources as `api.config.Settings` (variables prefixed `UNLEARN_`, an optional
TOML file), so the API, the workers and beat read one configuration. Output: a validated
`PipelineSettings`; `resolved_*` properties fill the embedded defaults, which need no
service: kombu's SQLAlchemy transport on SQLite as the broker, a SQLite result backend and
a local artifact folder, all under `data_dir`.

The timing fields are tied by one rule checked here: the broker's visibility timeout must
outlive the longest shard, otherwise Redis redelivers a shard while it still runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from api.config import Settings

__all__ = ["PipelineSettings"]


class PipelineSettings(Settings):
    """Everything a worker, beat or the API's Celery queue needs. Units are in the names."""

    broker_url: str = ""  # empty: sqla+sqlite:///<data_dir>/broker.sqlite (no Redis)
    result_backend: str = ""  # empty: db+sqlite:///<data_dir>/celery-results.sqlite
    artifacts_url: str = ""  # empty: file://<artifacts_dir>; s3://bucket/prefix in production

    # A submission's N runs are cut into shards of this many seeds; one shard = one container.
    shard_size: int = Field(default=8, gt=0)
    shard_time_limit_s: float = Field(default=3600.0, gt=0)  # hard backstop per shard task
    visibility_timeout_s: float = 0.0  # 0: 1.2 x shard_time_limit_s (> longest shard)

    lease_s: float = Field(default=120.0, gt=0)  # a holder that misses this is presumed dead
    heartbeat_s: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=3, gt=0)  # system retries before failing (quota refunded)
    reconcile_every_s: float = Field(default=60.0, gt=0)
    queued_grace_s: float = Field(default=300.0, ge=0)  # queued this long: re-send the message

    # Which code runs a shard: "module:attribute" of an `EvaluationBackend` factory.
    evaluation_backend: str = "worker.harness_backend:HarnessBackend"
    sandbox: Literal["docker", "local"] = "docker"
    device: str = "cpu"  # "cuda" sends shards to the gpu queue
    worker_gpu: str = ""  # set per worker process by `unlearn worker --gpu N`

    @model_validator(mode="after")
    def _check_timing(self) -> PipelineSettings:
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError(
                f"UNLEARN_HEARTBEAT_S={self.heartbeat_s} must be at most half of "
                f"UNLEARN_LEASE_S={self.lease_s}, so one late beat does not lose the lease"
            )
        if self.visibility_timeout_s and self.visibility_timeout_s <= self.shard_time_limit_s:
            raise ValueError(
                f"UNLEARN_VISIBILITY_TIMEOUT_S={self.visibility_timeout_s} must exceed "
                f"UNLEARN_SHARD_TIME_LIMIT_S={self.shard_time_limit_s}, or Redis re-delivers "
                "shards that are still running"
            )
        return self

    @property
    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def resolved_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        return f"db+sqlite:///{(self.data_dir / 'celery-results.sqlite').resolve()}"

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or self.resolved_artifacts_dir.as_uri()

    @property
    def resolved_visibility_timeout_s(self) -> float:
        return self.visibility_timeout_s or 1.2 * self.shard_time_limit_s

    @property
    def shard_queue(self) -> str:
        return "gpu" if self.device.startswith("cuda") else "cpu"
