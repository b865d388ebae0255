"""The competition server wired to the pipeline: Celery queue and the shared artifact store.

`create_app()` is the ASGI factory the deployment runs
(`uvicorn --factory worker.server:create_app`): the API of `api.main.create_app` with
`CeleryQueue` as its evaluation queue and `worker.artifacts.ArtifactStore` (any fsspec URL)
as its store, so uploads land where the workers read them. Without a broker configured the
queue goes to the embedded SQLite broker, which `unlearn worker` on the same machine reads.
"""

from __future__ import annotations

from fastapi import FastAPI

from worker.artifacts import ArtifactStore
from worker.celery_app import make_celery
from worker.config import PipelineSettings
from worker.queue import CeleryQueue

__all__ = ["create_app"]


def create_app(settings: PipelineSettings | None = None) -> FastAPI:
    from api.main import create_app as create_api

    settings = settings or PipelineSettings()
    app = create_api(settings, queue=CeleryQueue(make_celery(settings)))
    app.state.store = ArtifactStore(settings.resolved_artifacts_url)
    return app
