"""Liveness and readiness: ready only when the database answers and the store takes a write.

The answer says ready or not and nothing more (anyone may ask); the server log says which
check failed and why."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from api.health import PROBE_KEY


def test_ready_when_database_and_store_work(client, app):
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    response = client.get("/api/v1/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    assert app.state.store.exists(PROBE_KEY)


def test_not_ready_logs_an_unwritable_store(client, app, caplog):
    # A file where the probe's folder must go: the write fails as on a volume owned by
    # another user (the tests run as root, so permission bits would not stop them).
    (Path(app.state.store.root) / "health").write_text("in the way")
    caplog.set_level(logging.WARNING, logger="api.health")
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready"}
    assert [r.getMessage() for r in caplog.records] == [
        "not ready: the artifact store refused a write"
    ]
    assert caplog.records[0].exc_info is not None  # the reason, for the organizer


def test_not_ready_keeps_the_database_error_in_the_log(client, app, caplog):
    # The exploit: the error's text (host, user, database) read by anyone through /ready.
    caplog.set_level(logging.WARNING, logger="api.health")
    app.state.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready"}
    for leaked in ("OperationalError", "127.0.0.1", "nobody"):
        assert leaked not in response.text
    # Control: the details are in the server log.
    logged = caplog.text
    assert "not ready: the database did not answer" in logged and "OperationalError" in logged
