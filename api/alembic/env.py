"""Alembic environment: migrates the database named by `sqlalchemy.url`, `-x url=...` or
`UNLEARN_DATABASE_URL` (via `api.config.Settings`), against `api.models.Base.metadata`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import worker.models  # noqa: F401  (the pipeline's tables share this metadata)
from api.db import make_engine
from api.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from api.config import Settings

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
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
