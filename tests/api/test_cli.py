"""`unlearn.server`: create-organizer bootstraps the first organizer; serve starts the embedded
default (SQLite + local artifacts) with no other service and answers on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api import crud
from competition import db, preparation
from competition.pipeline_models import PreparationState
from competition.settings import Settings
from unlearn import server as cli

REPO = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(cli.serve)
    app.add_typer(cli.admin_app, name="admin")
    return app


def test_create_organizer_makes_a_login(monkeypatch, tmp_path):
    monkeypatch.setenv("UNLEARN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("UNLEARN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(
        _app(),
        ["admin", "create-organizer", "--email", "Boss@Example.org", "--display-name", "Boss"],
        input="s3cret-password\ns3cret-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "organizer boss@example.org created" in result.output
    engine = db.make_engine(Settings().resolved_database_url)
    with db.make_sessionmaker(engine)() as session:
        user = crud.authenticate(session, email="boss@example.org", password="s3cret-password")
        assert user is not None and user.is_organizer
    engine.dispose()
    again = CliRunner().invoke(
        _app(),
        ["admin", "create-organizer", "--email", "boss@example.org", "--display-name", "B"],
        input="s3cret-password\ns3cret-password\n",
    )
    assert again.exit_code == 1


PHASE = {
    "name": "dev",
    "dataset": "mnist1d",
    "model": "mlp",
    "replicas": 4,
    "estimator": "neurips2023",
    "starts_at": "2026-01-01T00:00:00Z",
    "ends_at": "2027-01-01T00:00:00Z",
}


# The new phase's preparation goes through the embedded broker: kombu's SQLAlchemy transport
# declares a `noload` relationship, deprecated in SQLAlchemy 2.1.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
def test_create_phase_from_json_and_refuse_bad_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("UNLEARN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("UNLEARN_DATABASE_URL", raising=False)
    spec = tmp_path / "phase.json"
    spec.write_text(json.dumps(PHASE))
    result = CliRunner().invoke(_app(), ["admin", "create-phase", str(spec)])
    assert result.exit_code == 0, result.output
    assert "phase 'dev' created (id 1)" in result.output
    assert "preparation sent" in result.output
    engine = db.make_engine(Settings().resolved_database_url)
    with db.make_sessionmaker(engine)() as session:
        assert crud.get_phase(session, 1).config.replicas == 4
        assert preparation.readiness(session, 1).state == PreparationState.PENDING
    engine.dispose()
    spec.write_text(json.dumps({**PHASE, "name": "other", "replicas": 1}))
    bad = CliRunner().invoke(_app(), ["admin", "create-phase", str(spec)])
    assert bad.exit_code == 2
    assert "replicas" in bad.output


def test_serve_runs_embedded_default_without_services(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "UNLEARN_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("UNLEARN_DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unlearn.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not answer within 60 s"
                time.sleep(0.3)
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        assert (tmp_path / "unlearn.sqlite").exists()
        assert (tmp_path / "artifacts").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()
