"""`unlearn admin backup` / `restore` on both databases: build a competition, back it up, wipe
the database and the artifact store, restore, and read everything back through the API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from api import crud
from competition import db
from competition.artifacts import submission_code_key
from tests.api.factories import PASSWORD, VALID_SOURCE, finish
from unlearn import backup as backups
from unlearn import server as cli


def _admin() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cli.admin_app, name="admin")
    return app


@pytest.fixture
def admin_env(monkeypatch, settings):
    monkeypatch.setenv("UNLEARN_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("UNLEARN_ARTIFACTS_URL", settings.resolved_artifacts_url)
    monkeypatch.setenv("UNLEARN_DATA_DIR", str(settings.data_dir))
    return settings


def _wipe(url: str) -> None:
    """Lose the database: the SQLite file deleted, or PostgreSQL's schema dropped."""
    engine = db.make_engine(url, poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{engine.url.database}{suffix}").unlink(missing_ok=True)
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _snapshot(client, world, sub_id):
    headers = world.alice.headers
    return {
        "phases": client.get("/api/v1/phases").json(),
        "board": client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()["rows"],
        "submission": client.get(f"/api/v1/submissions/{sub_id}", headers=headers).json(),
        "results": client.get(f"/api/v1/submissions/{sub_id}/results", headers=headers).json(),
        "plot": client.get(
            f"/api/v1/submissions/{sub_id}/artifacts/epsilons.png", headers=headers
        ).content,
    }


def test_backup_wipe_restore_brings_everything_back(
    client, world, session, app, admin_env, tmp_path
):
    settings = admin_env
    store = app.state.store
    upload = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert upload.status_code == 201, upload.text
    sub_id = upload.json()["id"]
    plot = f"submissions/{sub_id}/reports/attempt-1/epsilons.png"
    store.put_bytes(plot, b"\x89PNG fake plot")
    store.put_bytes("reference-cache/dev/public/models.npz", bytes(range(256)) * 64)
    finish(session, sub_id, public=0.61, private=0.42, plot_keys=(plot,))
    before = _snapshot(client, world, sub_id)
    assert before["board"][0]["submission_id"] == sub_id, before["board"]
    revision, rows = backups.database_state(settings.resolved_database_url)

    out = tmp_path / "backup"
    made = CliRunner().invoke(_admin(), ["admin", "backup", "--out", str(out)])
    assert made.exit_code == 0, made.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["revision"] == revision and manifest["rows"] == rows
    assert rows["users"] == 4 and rows["submissions"] == 1 and rows["results"] == 2
    assert set(manifest["artifacts"]) == {
        submission_code_key(sub_id, "py"),
        plot,
        "reference-cache/dev/public/models.npz",
    }
    again = CliRunner().invoke(_admin(), ["admin", "backup", "--out", str(out)])
    assert again.exit_code == 1 and "not empty" in again.output

    # Wipe: every table gone, the artifact store deleted.
    app.state.engine.dispose()
    _wipe(settings.resolved_database_url)
    shutil.rmtree(settings.resolved_artifacts_dir)
    assert backups.database_state(settings.resolved_database_url) == (None, {})

    refused = CliRunner().invoke(_admin(), ["admin", "restore", str(out)], input="n\n")
    assert refused.exit_code != 0
    assert backups.database_state(settings.resolved_database_url) == (None, {})

    restored = CliRunner().invoke(_admin(), ["admin", "restore", str(out), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert backups.database_state(settings.resolved_database_url) == (revision, rows)
    assert store.get_bytes(submission_code_key(sub_id, "py")) == VALID_SOURCE
    assert store.get_bytes("reference-cache/dev/public/models.npz") == bytes(range(256)) * 64
    assert _snapshot(client, world, sub_id) == before
    with app.state.sessionmaker() as fresh:
        user = crud.authenticate(fresh, email="alice@example.org", password=PASSWORD)
        assert user is not None and user.team_id == world.alice.team_id


def test_restore_refuses_a_damaged_backup(client, world, app, admin_env, tmp_path):
    out = tmp_path / "backup"
    app.state.store.put_bytes("reference-cache/x.bin", b"0123456789")
    assert CliRunner().invoke(_admin(), ["admin", "backup", "--out", str(out)]).exit_code == 0
    (out / "artifacts" / "reference-cache" / "x.bin").write_bytes(b"012345678X")
    damaged = CliRunner().invoke(_admin(), ["admin", "restore", str(out), "--yes"])
    assert damaged.exit_code == 1
    assert "reference-cache/x.bin does not match its SHA-256" in damaged.output
    (out / "manifest.json").unlink()
    unfinished = CliRunner().invoke(_admin(), ["admin", "restore", str(out), "--yes"])
    assert unfinished.exit_code == 1 and "not a finished backup" in unfinished.output


def test_postgres_backup_names_the_missing_client(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere
    with pytest.raises(backups.BackupError, match="pg_dump is not on PATH"):
        backups._pg_tool("pg_dump")
