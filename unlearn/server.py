"""The competition server wired to the pipeline, and its commands.

    unlearn serve [--host 127.0.0.1] [--port 8000] [--workers 1]
    unlearn admin create-organizer --email ... --display-name ...   (password prompted)
    unlearn admin create-phase PHASE.json       (the fields of `POST /api/v1/phases`)
    unlearn admin backup --out DIR              (database + artifact store + manifest.json)
    unlearn admin restore DIR [--yes]           (replaces the database, refills the store)

`create_app()` is the ASGI factory the deployment runs
(`uvicorn --factory unlearn.server:create_app`): the API of `api.main.create_app` with
`CeleryQueue` as its evaluation queue, so uploads reach the workers. Without a broker
configured the queue goes to the embedded SQLite broker, which `unlearn worker` on the same
machine reads. This is the one module that joins `api` and `worker`.

`serve` runs the migrations, then uvicorn, on the embedded default (SQLite + a local
artifact folder under `UNLEARN_DATA_DIR`, default `./unlearn-data`) unless the environment or
the settings file (`UNLEARN_SETTINGS_FILE`) says otherwise. On an address other than
loopback it runs with production settings (`serving_environment`): Secure cookies, a real
secret key required, /metrics closed without a token; on loopback it tells the pages its
own URL (`UNLEARN_PUBLIC_URL`) for the dry-run command they show.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from competition.settings import PipelineSettings

__all__ = [
    "admin_app",
    "backup",
    "create_app",
    "create_organizer",
    "create_phase",
    "restore",
    "serve",
    "serving_environment",
]

admin_app = typer.Typer(
    help="Administer the competition server: accounts, phases, backups.", no_args_is_help=True
)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start the competition server (JSON API at /api/v1, pages at /, docs at /docs).

    On an address other than loopback it runs with production settings: set
    UNLEARN_SECRET_KEY, and put a TLS proxy in front (the session cookie is Secure)."""
    import uvicorn
    from pydantic import ValidationError

    from competition import db
    from competition.settings import PipelineSettings

    # Set in this process's environment, so that uvicorn's worker processes inherit it.
    note = serving_environment(host=host, environ=os.environ)
    if note:
        typer.echo(note)
    try:
        settings = PipelineSettings()
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        typer.echo(f"error: the settings are refused: {problems}", err=True)
        raise typer.Exit(2) from None
    if not settings.public_url and _is_loopback(host):
        # The pages' dry-run command names this server (never the request's Host header).
        shown = f"[{host}]" if ":" in host else host
        os.environ["UNLEARN_PUBLIC_URL"] = f"http://{shown}:{port}"
    logging.basicConfig(level=log_level.upper())
    # Migrate once here, not in each uvicorn worker process.
    db.upgrade_to_head(settings.resolved_database_url)
    typer.echo(
        f"serving on http://{host}:{port} "
        f"(database {settings.resolved_database_url.split('@')[-1]}, "
        f"artifacts {settings.resolved_artifacts_dir})"
    )
    uvicorn.run(
        "unlearn.server:_app_without_migrations",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


def serving_environment(*, host: str, environ: MutableMapping[str, str]) -> str:
    """Settings `serve` implies for `host`, written into `environ`; returns a note for the
    operator ("" when nothing changed).

    Outside loopback the server is reachable by others, so it runs as production whatever
    UNLEARN_ENVIRONMENT says (review F10: `serve --host 0.0.0.0` sent session cookies
    without Secure)."""
    if not _is_loopback(host):
        if environ.get("UNLEARN_ENVIRONMENT") == "production":
            return ""
        environ["UNLEARN_ENVIRONMENT"] = "production"
        return (
            f"{host} is not a loopback address: serving with production settings "
            "(UNLEARN_SECRET_KEY required, Secure cookies: put a TLS proxy in front)"
        )
    return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def create_app(settings: PipelineSettings | None = None) -> FastAPI:
    """The API with the Celery queue (imports are local: `unlearn dry-run` needs neither)."""
    from api.main import create_app as create_api
    from competition.settings import PipelineSettings
    from worker.celery_app import make_celery
    from worker.queue import CeleryQueue

    settings = settings or PipelineSettings()
    if settings.log_format == "json":
        from competition import logs

        logs.configure("json")
    return create_api(settings, queue=CeleryQueue(make_celery(settings)))


def _app_without_migrations() -> FastAPI:
    from competition.settings import PipelineSettings

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
    from api import crud, services
    from competition import db
    from competition.settings import Settings

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
            user = services.accounts.create_organizer(
                session, email=email, password=password, display_name=display_name
            )
            typer.echo(f"organizer {user.email} created (id {user.id})")
    except crud.CrudError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@admin_app.command("create-phase")
def create_phase(
    file: Annotated[
        Path, typer.Argument(help="JSON object with the phase's fields ('-' reads standard input)")
    ],
) -> None:
    """Create a phase from a JSON file with the fields of `POST /api/v1/phases`."""
    import json

    import pydantic

    from api import crud, schemas
    from competition import db
    from competition.settings import Settings

    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        data = schemas.PhaseCreate.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        typer.echo(f"error: {file} is not JSON ({exc}); give one object of phase fields", err=True)
        raise typer.Exit(2) from None
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {file}: {problems}", err=True)
        raise typer.Exit(2) from None
    url = Settings().resolved_database_url
    db.upgrade_to_head(url)
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            phase = crud.create_phase(session, data)
            typer.echo(f"phase {phase.name!r} created (id {phase.id})")
        _send_preparation(phase.id)
    except crud.CrudError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _send_preparation(phase_id: int) -> None:
    """Ask the workers to prepare the new phase, as the API does (`CeleryQueue`)."""
    from competition.settings import PipelineSettings
    from worker.celery_app import make_celery
    from worker.queue import CeleryQueue

    CeleryQueue(make_celery(PipelineSettings())).prepare_phase(phase_id)
    typer.echo(
        f"preparation sent to the workers; follow it with `unlearn prepare-phase {phase_id}`"
    )


@admin_app.command("backup")
def backup(
    out: Annotated[Path, typer.Option(help="new (or empty) folder to write the backup into")],
) -> None:
    """Back up the database and the artifact store into a folder, with a manifest."""
    from competition.settings import Settings
    from unlearn import backup as backups

    settings = Settings()
    try:
        manifest = backups.backup(
            settings.resolved_database_url,
            settings.resolved_artifacts_url,
            out,
            progress=lambda line: typer.echo(line, err=True),
        )
    except backups.BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup written to {out}: {manifest.summary()}")


@admin_app.command("restore")
def restore(
    folder: Annotated[Path, typer.Argument(help="a folder written by `unlearn admin backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="replace the database without asking")] = False,
) -> None:
    """Replace the database with the backup's and write its artifacts, then migrate to head."""
    from competition import db
    from competition.settings import Settings
    from unlearn import backup as backups

    settings = Settings()
    url = settings.resolved_database_url
    try:
        manifest = backups.read_manifest(folder)
        if not yes:
            typer.confirm(
                f"replace the database {url.split('@')[-1]} with the backup "
                f"({manifest.summary()})?",
                abort=True,
            )
        backups.restore(
            folder,
            url,
            settings.resolved_artifacts_url,
            progress=lambda line: typer.echo(line, err=True),
        )
    except backups.BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    db.upgrade_to_head(url)  # a backup from an older release comes up on this one's schema
    typer.echo(f"restored from {folder}: {manifest.summary()}")
