"""Liveness and readiness of the server, for compose healthchecks and load balancers.

GET /api/v1/health   200 while the process serves requests (liveness)
GET /api/v1/ready    200 when the database answers and the artifact store takes a write;
                     503 otherwise. The answer says only ready or not: anyone may ask, and
                     an error's text names hosts, users and paths. What failed, and why, goes
                     to the server log (a volume the server's user cannot write, a database
                     not reachable), where the organizer looks.
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
    failed = []
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception:  # any failure means not ready; the log says why
        logger.warning("not ready: the database did not answer", exc_info=True)
        failed.append("database")
    try:
        # The same kind of write an upload makes: catches a volume owned by another user.
        request.app.state.store.put_bytes(PROBE_KEY, b"ok")
    except Exception:
        logger.warning("not ready: the artifact store refused a write", exc_info=True)
        failed.append("artifacts")
    if failed:
        return JSONResponse({"status": "not ready"}, 503)
    return JSONResponse({"status": "ok"}, 200)
