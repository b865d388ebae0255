"""Fuzz every operation of the app's own OpenAPI schema with schemathesis: no 5xx, and every
response matches its declared schema. Runs as an organizer (who may reach every route) on a
fresh SQLite database with a populated world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.main import create_app
from competition import db
from competition.settings import Settings
from tests.api.factories import World, build_world
from tests.api.fakes import CommitCheckingQueue


@pytest.fixture
def fuzz_world(tmp_path: Path) -> Iterator[tuple[object, World]]:
    app_settings = Settings(
        environment="test",
        secret_key="test-secret-key-not-for-production",
        database_url=f"sqlite:///{tmp_path / 'fuzz.sqlite'}",
        data_dir=tmp_path / "data",
        run_migrations_on_start=False,
        rate_limit_enabled=False,
        leaderboard_cache_seconds=0.0,
        max_upload_bytes=16 * 1024,
    )
    db.upgrade_to_head(app_settings.resolved_database_url)
    queue = CommitCheckingQueue(app_settings)
    app = create_app(app_settings, queue=queue)
    yield app, build_world(app)
    queue.close()
    app.state.engine.dispose()


@pytest.fixture
def api_schema(fuzz_world):  # type: ignore[no-untyped-def]
    app, _world = fuzz_world
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_openapi_schema_is_clean(api_schema) -> None:  # type: ignore[no-untyped-def]
    raw = api_schema.raw_schema
    operations = [(path, method) for path, item in raw["paths"].items() for method in item]
    assert len(operations) >= 25
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), f"{method.upper()} {path} lacks a summary"
            if path.endswith(("/health", "/ready")):  # probes, not resources
                continue
            error = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path}"


def test_api_fuzz_finds_no_server_error(api_schema, fuzz_world) -> None:  # type: ignore[no-untyped-def]
    _app, world = fuzz_world
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(
                headers=world.organizer.headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        try:
            exercise()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
