"""Per-process resources of a worker: settings, database sessions, artifact store, backend.

Built once per process on first use (Celery's prefork children each build their own, after
the fork, so no connection is shared across processes). Tests call `reset()` to rebuild
after changing the environment.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from competition.artifacts import ArtifactStore
from competition.db import make_engine, make_sessionmaker
from competition.pipeline_models import ensure_schema
from competition.settings import PipelineSettings
from worker.backend import EvaluationBackend, load_backend

__all__ = ["WorkerContext", "get_context", "reset"]


@dataclass
class WorkerContext:
    settings: PipelineSettings
    sessions: sessionmaker[Session]
    store: ArtifactStore

    @functools.cached_property
    def backend(self) -> EvaluationBackend:
        return load_backend(
            self.settings.evaluation_backend, settings=self.settings, store=self.store
        )

    @property
    def holder(self) -> str:
        """Who holds a lease: host and process, as shown to organizers."""
        return f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def get_context() -> WorkerContext:
    settings = PipelineSettings()
    if settings.run_migrations_on_start:
        ensure_schema(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    return WorkerContext(
        settings=settings,
        sessions=make_sessionmaker(engine),
        store=ArtifactStore(settings.resolved_artifacts_url),
    )


def reset() -> None:
    get_context.cache_clear()
