"""The Celery application: broker, result backend, delivery guarantees, queues and beat.

Input: `PipelineSettings` (environment `UNLEARN_*`). Output: `app`, used by
`celery -A worker.celery_app worker|beat` and by `unlearn worker|beat`.

Delivery guarantees, each for a failure seen on competition platforms:
- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only after its
  task returns, and goes back to the queue when the worker dies mid-task.
- `worker_prefetch_multiplier=1`: a worker holds one message at a time, so a long shard
  never sits behind another on a busy worker while an idle one waits.
- Redis `visibility_timeout` > the longest shard: Redis re-delivers unacknowledged messages
  after this long, so a shorter one would run long shards twice.
- The database holds the truth (`worker.leases`): duplicates and stale attempts are dropped
  there, and beat runs `reconcile` to re-send what a lost broker message left stuck.

Queues by capability: `control` (claiming, dispatch, scoring, reconciliation: short and
CPU-only), `cpu` and `gpu` (shards). A GPU machine runs one worker process per GPU on `gpu`.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu.entity import Exchange, Queue

from competition.settings import PipelineSettings

__all__ = ["QUEUES", "app", "celery_config", "make_celery"]

QUEUES = ("control", "cpu", "gpu")


def celery_config(settings: PipelineSettings) -> dict[str, Any]:
    # Only Redis re-delivers by timeout; kombu's SQLAlchemy transport would hand the option
    # to create_engine() and fail.
    redis_options = {"visibility_timeout": settings.resolved_visibility_timeout_s}
    broker_options = redis_options if _is_redis(settings.resolved_broker_url) else {}
    backend_options = redis_options if _is_redis(settings.resolved_result_backend) else {}
    shard_limit = settings.shard_time_limit_s
    soft_limit = settings.shard_soft_time_limit_s
    return {
        "broker_url": settings.resolved_broker_url,
        "result_backend": settings.resolved_result_backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": broker_options,
        "result_backend_transport_options": backend_options,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_track_started": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 24 * 3600,
        "task_default_queue": "control",
        # One direct exchange per queue: a bare Queue(name) would bind to the default
        # queue's exchange and key, and a shard sent to `cpu` would also land on `control`.
        "task_queues": [_queue(name) for name in QUEUES],
        "task_annotations": {
            "worker.run_shard": {"time_limit": shard_limit, "soft_time_limit": soft_limit},
            "worker.run_sanity": {"time_limit": shard_limit, "soft_time_limit": soft_limit},
        },
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "reconcile": {
                "task": "worker.reconcile",
                "schedule": settings.reconcile_every_s,
                "options": {"expires": settings.reconcile_every_s},
            },
            "cleanup": {"task": "worker.cleanup", "schedule": 3600.0, "options": {"expires": 3600}},
            "freeze_boards": {
                "task": "worker.freeze_boards",
                "schedule": settings.reconcile_every_s,
                "options": {"expires": settings.reconcile_every_s},
            },
        },
    }


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name), routing_key=name)  # type: ignore[no-untyped-call]


def _is_redis(url: str) -> bool:
    return url.split("://", 1)[0] in ("redis", "rediss", "sentinel")


def make_celery(settings: PipelineSettings | None = None) -> Celery:
    settings = settings or PipelineSettings()
    if not (settings.broker_url and settings.result_backend):
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded SQLite files
    celery = Celery("unlearn")
    celery.conf.update(celery_config(settings))
    celery.conf.include = [
        "worker.tasks.provision",
        "worker.tasks.dispatch",
        "worker.tasks.execute",
        "worker.tasks.score",
        "worker.tasks.reconcile",
        "worker.tasks.cleanup",
        "worker.tasks.freeze",
    ]
    return celery


app = make_celery()


def _json_logging(loglevel: int | str | None = None, **_: Any) -> None:
    from competition import logs

    level = logging.getLevelName(loglevel.upper()) if isinstance(loglevel, str) else loglevel
    logs.configure("json", level if isinstance(level, int) and level else logging.INFO)


# Connected only for JSON: a receiver of `setup_logging` replaces Celery's own set-up.
if PipelineSettings().log_format == "json":
    setup_logging.connect(_json_logging, weak=False)
