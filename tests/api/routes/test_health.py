"""Liveness and readiness: ready only when the database answers and the store takes a write."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from api.health import PROBE_KEY


def test_ready_when_database_and_store_work(client, app):
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    response = client.get("/api/v1/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "artifacts": "ok"}
    assert app.state.store.exists(PROBE_KEY)


def test_not_ready_names_an_unwritable_store(client, app):
    # A file where the probe's folder must go: the write fails as on a volume owned by
    # another user (the tests run as root, so permission bits would not stop them).
    (Path(app.state.store.root) / "health").write_text("in the way")
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["artifacts"] != "ok"


def test_not_ready_names_an_unreachable_database(client, app):
    app.state.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("OperationalError")
