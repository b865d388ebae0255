"""Fixtures for the pipeline tests that run in process (Celery eager, SQLite, fake backend).

Fault tests that need real brokers and worker processes build their own in `test_faults.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.factories import Pipeline, configure
from worker import context


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    configure(monkeypatch, tmp_path)
    ctx = context.get_context()
    from worker.celery_app import app, celery_config

    app.conf.update(celery_config(ctx.settings))
    app._local.__dict__.pop("backend", None)  # rebuild the result backend from the new URL
    app.loader.import_default_modules()  # register every task, so eager calls find them
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield Pipeline(data_dir=tmp_path, sessions=ctx.sessions, store=ctx.store)
    finally:
        app.conf.task_always_eager = False
        app.conf.task_eager_propagates = False
        context.reset()
