"""Backup and restore of a competition: the database plus the artifact store, with a manifest.

Input: a SQLAlchemy database URL (SQLite or PostgreSQL) and an artifact store URL (any fsspec
URL, `competition.artifacts.ArtifactStore`). Output of `backup`: a folder

    manifest.json      format, time, backend, migration revision, rows per table, artifacts
    database.sqlite    SQLite: a consistent copy made with sqlite3's online backup API
    database.pgdump    PostgreSQL: `pg_dump --format=custom` (pg_dump found on PATH)
    artifacts/<key>    every key of the store, byte for byte

`restore` puts both back (the database replaced wholesale, every artifact written) and checks
the rows per table and the artifacts' sizes and SHA-256 against the manifest. The database is
dumped before the artifacts are copied, so every key the database names is in the backup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from competition import db
from competition.artifacts import ArtifactStore

__all__ = ["BackupError", "Manifest", "backup", "restore"]

FORMAT = 1
MANIFEST = "manifest.json"
ARTIFACTS = "artifacts"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to fix."""


@dataclass(frozen=True)
class Manifest:
    backend: str
    revision: str | None
    rows: dict[str, int]
    artifacts: dict[str, dict[str, Any]]  # key -> {"bytes": n, "sha256": hex}

    def summary(self) -> str:
        rows = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items()) if n)
        size = sum(a["bytes"] for a in self.artifacts.values())
        return (
            f"{self.backend} at revision {self.revision}; rows: {rows or 'none'}; "
            f"{len(self.artifacts)} artifacts ({size} bytes)"
        )


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"database {name!r} is not supported: use SQLite or PostgreSQL")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is not a SQLite file")
    return Path(database)


def _pg_env(url: str) -> dict[str, str]:
    # libpq reads these; the password stays out of the process list.
    parsed = make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[var] = str(value)
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client (Debian: "
            f"`apt-get install postgresql-client`, the server's major version or newer), "
            f"or run this command where it is installed"
        )
    return path


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()}")


def database_state(url: str) -> tuple[str | None, dict[str, int]]:
    """The Alembic revision and the row count of every table of the database at `url`."""
    engine = db.make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            rows = {
                t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                for t in tables
            }
            revision = None
            if "alembic_version" in tables:
                revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return revision, rows
    finally:
        engine.dispose()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(
    database_url: str,
    artifacts_url: str,
    out: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> Manifest:
    """Write the database and the artifact store into the new folder `out`."""
    backend = _backend(database_url)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: give a new folder for the backup")
    out.mkdir(parents=True, exist_ok=True)
    revision, rows = database_state(database_url)
    if revision is None:
        raise BackupError("the database has no migration revision: is it a competition database?")
    if backend == "sqlite":
        source = _sqlite_path(database_url)
        if not source.is_file():
            raise BackupError(f"SQLite file {source} does not exist")
        with sqlite3.connect(source) as src, sqlite3.connect(out / SQLITE_FILE) as dst:
            src.backup(dst)  # a consistent snapshot even while the server writes
        src.close()
        dst.close()
    else:
        dump = _pg_tool("pg_dump")
        _run(
            [dump, "--format=custom", "--no-owner", f"--file={out / PG_FILE}"],
            _pg_env(database_url),
        )
    progress(f"database: {backend} at revision {revision}, {sum(rows.values())} rows")

    store = ArtifactStore(artifacts_url)
    keys = store.keys()
    artifacts: dict[str, dict[str, Any]] = {}
    for number, key in enumerate(keys, 1):
        local = store.get_file(key, out / ARTIFACTS / key)
        artifacts[key] = {"bytes": local.stat().st_size, "sha256": _sha256(local)}
        if number % 100 == 0 or number == len(keys):
            progress(f"artifacts: {number}/{len(keys)}")
    manifest = Manifest(backend=backend, revision=revision, rows=rows, artifacts=artifacts)
    # The manifest is written last: a folder without one is an unfinished backup.
    (out / MANIFEST).write_text(
        json.dumps(
            {
                "format": FORMAT,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "backend": backend,
                "revision": revision,
                "rows": rows,
                "artifacts": artifacts,
            },
            indent=1,
            sort_keys=True,
        ),
        encoding="utf-8",
    )
    return manifest


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} is missing: {folder} is not a finished backup")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise BackupError(f"{path} has format {data.get('format')!r}; this version reads {FORMAT}")
    return Manifest(
        backend=data["backend"],
        revision=data["revision"],
        rows={k: int(v) for k, v in data["rows"].items()},
        artifacts=data["artifacts"],
    )


def restore(
    folder: Path,
    database_url: str,
    artifacts_url: str,
    progress: Callable[[str], None] = lambda _line: None,
) -> Manifest:
    """Replace the database at `database_url` and fill the store from the backup `folder`."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    backend = _backend(database_url)
    if backend != manifest.backend:
        raise BackupError(
            f"the backup is of a {manifest.backend} database and the target is {backend}: "
            "restore into the same kind of database"
        )
    for key, meta in manifest.artifacts.items():
        local = folder / ARTIFACTS / key
        if not local.is_file() or local.stat().st_size != meta["bytes"]:
            raise BackupError(f"backup artifact {key} is missing or truncated in {folder}")
        if _sha256(local) != meta["sha256"]:  # checked before anything is replaced
            raise BackupError(f"backup artifact {key} does not match its SHA-256 in the manifest")
    if backend == "sqlite":
        target = _sqlite_path(database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(folder / SQLITE_FILE) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # replaces every page of the target, WAL included
        src.close()
        dst.close()
    else:
        tool = _pg_tool("pg_restore")
        env = _pg_env(database_url)
        _drop_pg_schema(database_url)
        _run([tool, "--no-owner", "--exit-on-error", f"--dbname={env['PGDATABASE']}",
              str(folder / PG_FILE)], env)  # fmt: skip
    revision, rows = database_state(database_url)
    if revision != manifest.revision or rows != manifest.rows:
        raise BackupError(
            f"restored database differs from the manifest: revision {revision} "
            f"(expected {manifest.revision}), rows {rows} (expected {manifest.rows})"
        )
    progress(f"database: {backend} restored at revision {revision}, {sum(rows.values())} rows")

    store = ArtifactStore(artifacts_url)
    for number, key in enumerate(sorted(manifest.artifacts), 1):
        store.put_file(key, folder / ARTIFACTS / key)
        if number % 100 == 0 or number == len(manifest.artifacts):
            progress(f"artifacts: {number}/{len(manifest.artifacts)}")
    return manifest


def _drop_pg_schema(url: str) -> None:
    # pg_restore --clean cannot drop tables the dump does not know (a newer schema); start
    # from an empty public schema instead, so the result is exactly the backup.
    engine = db.make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
