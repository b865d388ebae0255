"""Command-line entry points of the server, for the lead to register under `unlearn`:

    unlearn serve [--host 127.0.0.1] [--port 8000] [--workers 1]
    unlearn admin create-organizer --email ... --display-name ...   (password prompted)

`serve` runs the migrations, then uvicorn, on the embedded default (SQLite + a local
artifact folder under `UNLEARN_DATA_DIR`, default `./unlearn-data`) unless the environment or
the settings file (`UNLEARN_SETTINGS_FILE`) says otherwise. Registration:
`app.command("serve")(api.cli.serve)` and `app.add_typer(api.cli.admin_app, name="admin")`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

__all__ = ["admin_app", "create_organizer", "serve"]

admin_app = typer.Typer(help="Administer the competition server's accounts.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start the competition server (JSON API at /api/v1, pages at /, docs at /docs)."""
    import uvicorn

    from api import db
    from worker.config import PipelineSettings

    settings = PipelineSettings()
    logging.basicConfig(level=log_level.upper())
    # Migrate once here, not in each uvicorn worker process.
    db.upgrade_to_head(settings.resolved_database_url)
    typer.echo(
        f"serving on http://{host}:{port} "
        f"(database {settings.resolved_database_url.split('@')[-1]}, "
        f"artifacts {settings.resolved_artifacts_dir})"
    )
    uvicorn.run(
        "api.cli:_app_without_migrations",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


def _app_without_migrations():  # type: ignore[no-untyped-def]
    # The server wired to the pipeline (Celery queue, shared artifact store); with no broker
    # configured its queue is the embedded SQLite broker that `unlearn worker` reads.
    from worker.config import PipelineSettings
    from worker.server import create_app

    return create_app(PipelineSettings(run_migrations_on_start=False))


@admin_app.command("create-organizer")
def create_organizer(
    email: Annotated[str, typer.Option(help="the organizer's e-mail (login name)")],
    display_name: Annotated[str, typer.Option(help="name shown on pages")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="password")
    ],
) -> None:
    """Create an organizer account (the first one must come from here)."""
    from api import crud, db
    from api.config import Settings
    from api.models import Role

    if len(password) < 8:
        raise typer.BadParameter(
            "the password needs at least 8 characters", param_hint="--password"
        )
    settings = Settings()
    url = settings.resolved_database_url
    db.upgrade_to_head(url)
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            user = crud.create_user(
                session,
                email=email,
                password=password,
                display_name=display_name,
                role=Role.ORGANIZER,
            )
            typer.echo(f"organizer {user.email} created (id {user.id})")
    except crud.CrudError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def main() -> None:
    """Stand-alone runner (`python -m api.cli`) until the lead wires these into `unlearn`."""
    app = typer.Typer(no_args_is_help=True)
    app.command("serve")(serve)
    app.add_typer(admin_app, name="admin")
    app()


if __name__ == "__main__":
    main()
