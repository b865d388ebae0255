"""Migrations from empty on both databases: head matches the models, down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api import db
from api.models import Base
from tests.api.conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_from_empty_match_models_and_reverse(backend, empty_database_factory):
    url = empty_database_factory(backend)
    db.upgrade_to_head(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            assert set(Base.metadata.tables) <= set(sa.inspect(conn).get_table_names())
        db.downgrade_to_base(url)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
        db.upgrade_to_head(url)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_app_start_runs_migrations(backend, empty_database_factory, tmp_path):
    from api.config import Settings
    from api.main import create_app
    from tests.api.conftest import TestClient

    url = empty_database_factory(backend)
    settings = Settings(database_url=url, data_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/api/v1/phases").json()["count"] == 0
    app.state.engine.dispose()
