"""`create_app(settings, queue=...)`: the FastAPI application with its database and routes.

Builds the engine and session factory, the artifact store, the evaluation queue (default:
`DatabaseQueue`), the leaderboard cache and the rate limiter, and keeps them on `app.state`
for the dependencies in `deps.py`. Runs the Alembic migrations at start-up unless
`settings.run_migrations_on_start` is off. JSON API under `/api/v1`, web pages at `/`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import health, metrics, routes
from api.body_limits import BodyLimit
from api.deps import SESSION_COOKIE
from api.errors import error_response, install_error_handlers
from api.leaderboard import LeaderboardCache
from api.pages import STATIC_DIR, error_page
from api.pages import router as pages_router
from api.ratelimit import RateLimiter, rate_limit_storage_url
from competition import db
from competition.artifacts import ArtifactStore
from competition.queue import DatabaseQueue, EvaluationQueue
from competition.settings import Settings

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The pages load only their own script, style sheet and images (plots are same-origin PNGs;
# no inline script or style anywhere), post only to this site, and are framed by nobody.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def create_app(
    settings: Settings | None = None, *, queue: EvaluationQueue | None = None
) -> FastAPI:
    settings = settings or Settings()
    url = settings.resolved_database_url
    engine = db.make_engine(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations_on_start:
            db.upgrade_to_head(url)
        yield

    app = FastAPI(
        title="Unlearning challenge server",
        version="1.0.0",
        summary="Submissions, phases, leaderboards and organizer controls.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.store = ArtifactStore(settings.resolved_artifacts_url)
    app.state.queue = queue or DatabaseQueue()
    app.state.leaderboard_cache = LeaderboardCache(settings.leaderboard_cache_seconds)
    app.state.rate_limiter = RateLimiter(
        enabled=settings.rate_limit_enabled,
        limits_by_scope={"login": settings.login_rate_limit, "upload": settings.upload_rate_limit},
        storage_url=rate_limit_storage_url(settings),
    )

    install_error_handlers(app, page=error_page)
    # Added last, so it runs first: bodies are bounded before any other layer reads them.
    app.add_middleware(SecurityHeaders, exempt=(app.docs_url, app.redoc_url))
    app.add_middleware(SameOriginForCookies)
    app.add_middleware(BodyLimit)
    for module in (
        routes.auth,
        routes.teams,
        routes.phases,
        routes.submissions,
        routes.records,
        routes.leaderboard,
        routes.admin,
    ):
        app.include_router(module.router, prefix=API_PREFIX)

    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    # The broker's queue depths when the queue is Celery's (worker.queue.CeleryQueue).
    app.state.metrics_registry = metrics.make_registry(
        app.state.sessionmaker, getattr(app.state.queue, "app", None)
    )
    app.include_router(pages_router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


class SameOriginForCookies:
    """Refuse cross-site state changes made with the session cookie (CSRF defence in depth
    on top of SameSite=Lax). Bearer-token requests are not affected. Pure ASGI, so reads
    pay nothing for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            connection = HTTPConnection(scope)
            headers = connection.headers
            if SESSION_COOKIE in connection.cookies and "authorization" not in headers:
                origin = headers.get("origin") or headers.get("referer")
                if origin and urlsplit(origin).netloc != headers.get("host", ""):
                    response = error_response(403, "forbidden", "cross-site request refused")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Put `SECURITY_HEADERS` on every response but those of the `exempt` paths (the
    interactive API docs, whose page loads its script from a CDN and runs inline code).
    Pure ASGI: it edits the response's start message only."""

    def __init__(self, app: ASGIApp, *, exempt: tuple[str | None, ...] = ()) -> None:
        self.app = app
        self.exempt = {path for path in exempt if path}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
