"""Alembic environment: migrates the database named by `sqlalchemy.url`, `-x url=...` or
`UNLEARN_DATABASE_URL` (via `competition.settings.Settings`), against the metadata of
`competition.models.Base` (server and pipeline tables)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import competition.pipeline_models  # noqa: F401  (the pipeline's tables share this metadata)
from competition.db import make_engine
from competition.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from competition.settings import Settings

    return Settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys
            # on, that drop would cascade to every row that points at it (a phase's secrets).
            # The pragma only takes effect outside a transaction, hence before it starts.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
