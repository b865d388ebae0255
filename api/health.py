"""Liveness and readiness of the server, for compose healthchecks and load balancers.

GET /api/v1/health   200 while the process serves requests (liveness)
GET /api/v1/ready    200 when the database answers and the artifact store takes a write;
                     503 naming each check that failed, so an organizer sees what to fix
                     (a volume the server's user cannot write, a database not reachable)
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

PROBE_KEY = "health/ready-probe"


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "a dependency is not ready"}})
def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; say which
        checks["database"] = f"{type(error).__name__}: {error}"[:300]
    try:
        # The same kind of write an upload makes: catches a volume owned by another user.
        request.app.state.store.put_bytes(PROBE_KEY, b"ok")
        checks["artifacts"] = "ok"
    except Exception as error:
        checks["artifacts"] = f"{type(error).__name__}: {error}"[:300]
    ok = all(value == "ok" for value in checks.values())
    if not ok:
        logger.warning("not ready: %s", checks)
    return JSONResponse(
        {"status": "ok" if ok else "not ready", "checks": checks}, 200 if ok else 503
    )
