"""Fixtures for the server tests: a migrated database per backend, apps, clients, a world.

Every test that takes `db_url` runs twice: on SQLite (a file) and on PostgreSQL (a fresh
database created for this test session, dropped at the end). PostgreSQL tests are skipped,
with the reason, when no server answers at `UNLEARN_TEST_PG_URL` (default: the role and
database made by `scripts/start_postgres.sh`).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from api.main import create_app
from competition import db
from competition.models import Base
from competition.settings import Settings
from tests.api.factories import World, build_world
from tests.api.fakes import CommitCheckingQueue

with warnings.catch_warnings():
    # starlette asks for httpx2 at import time; the plain httpx client works the same here.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PG_ADMIN_URL = os.environ.get(
    "UNLEARN_TEST_PG_URL", "postgresql+psycopg://unlearn:unlearn@127.0.0.1:5432/unlearn_test"
)


def postgres_reason() -> str | None:
    """None when PostgreSQL answers, else why the postgres tests are skipped."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return (
            f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]} ({type(exc).__name__}); "
            "run scripts/start_postgres.sh"
        )
    return None


def create_pg_database() -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"unlearn_t_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def empty_database_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Call with a backend name to get the URL of a new, empty database (dropped at the end)."""
    made: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'unlearn.sqlite'}"
        reason = postgres_reason()
        if reason:
            pytest.skip(reason)
        url = create_pg_database()
        made.append(url)
        return url

    yield make
    for url in made:
        drop_pg_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, empty_database_factory) -> str:  # type: ignore[no-untyped-def]
    url: str = empty_database_factory(request.param)
    db.upgrade_to_head(url)
    return url


@pytest.fixture
def db_url(migrated_url: str) -> Iterator[str]:
    """A migrated database with every table emptied before the test."""
    engine = db.make_engine(migrated_url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()
    yield migrated_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-key-not-for-production",
        database_url=db_url,
        data_dir=tmp_path / "data",
        run_migrations_on_start=False,
        rate_limit_enabled=False,
        leaderboard_cache_seconds=0.0,
        max_upload_bytes=64 * 1024,
        max_unzipped_bytes=256 * 1024,
    )


@pytest.fixture
def queue(settings: Settings) -> Iterator[CommitCheckingQueue]:
    checking = CommitCheckingQueue(settings)
    yield checking
    checking.close()


@pytest.fixture
def app(settings: Settings, queue: CommitCheckingQueue):  # type: ignore[no-untyped-def]
    application = create_app(settings, queue=queue)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(app):  # type: ignore[no-untyped-def]
    with app.state.sessionmaker() as db_session:
        yield db_session


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    return build_world(app)


class LiveServer:
    """The app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        app.state.settings.public_url = self.url  # as `unlearn serve` sets it on loopback
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    with LiveServer(app) as server:
        yield server
