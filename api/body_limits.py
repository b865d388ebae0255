"""Request bodies bounded while they stream in, and uploads authenticated before they do.

`BodyLimit` is pure ASGI middleware, in front of every route, so nothing below it (FastAPI's
multipart parser, which spools files to disk) ever sees more than the limit:

- upload routes (`POST /api/v1/phases/{id}/submissions`, `/api/v1/submissions/validate`,
  the page's `POST /phases/{id}/submit`) first check the bearer token or session cookie
  against the database, before a byte of the body is read: no login, no body read (401,
  or a redirect to the login page for the browser form). Their limit is
  `max_upload_bytes` plus room for the multipart envelope;
- the rate limits (`api.ratelimit`: uploads per account, log in and sign up per address)
  are checked next, still before the body: a request over its limit gets 429 unread;
- every other request may send at most `max_request_bytes` (JSON bodies are small);
- a declared `Content-Length` over the limit is refused (413) at once; a body without
  one (chunked) is counted as it arrives and refused when it passes the limit. The upload
  form's browser gets the error page (`api.pages.errors`), the API its JSON body.

The accepted body (at most the limit, in memory) is then handed to the app unchanged.
Clients sending `Expect: 100-continue` are refused before they send anything.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import crud
from api.deps import SESSION_COOKIE
from api.errors import APIError, error_response
from api.ratelimit import client_address, limited_scope

__all__ = ["MULTIPART_ENVELOPE_BYTES", "BodyLimit", "upload_route"]

# Boundaries and part headers around the file; the exact check is on the file's bytes.
MULTIPART_ENVELOPE_BYTES = 64 * 1024
_UPLOAD_ROUTES = (
    (re.compile(r"^/api/v1/phases/\d+/submissions/?$"), "api"),
    (re.compile(r"^/api/v1/submissions/validate/?$"), "api"),
    (re.compile(r"^/phases/\d+/submit/?$"), "page"),
)


def upload_route(method: str, path: str) -> str | None:
    """ "api" or "page" for a route that takes an upload, else None."""
    if method != "POST":
        return None
    for pattern, kind in _UPLOAD_ROUTES:
        if pattern.match(path):
            return kind
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings
        kind = upload_route(scope["method"], scope["path"])
        rate_key = client_address(scope)
        if kind is not None:
            user_id = await self._authenticated(scope)
            if user_id is None:
                await self._refuse_anonymous(kind, scope, receive, send)
                return
            rate_key = f"user:{user_id}"
            limit = settings.max_upload_bytes + MULTIPART_ENVELOPE_BYTES
        else:
            limit = settings.max_request_bytes
        rate_scope = limited_scope(scope["method"], scope["path"], upload=kind is not None)
        if rate_scope is not None:
            try:
                scope["app"].state.rate_limiter.check(rate_scope, rate_key)
            except APIError as exc:
                response = error_response(
                    exc.status_code, exc.code, exc.message, headers=exc.headers
                )
                await response(scope, receive, send)
                return
        declared = HTTPConnection(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(limit, scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nothing to answer
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._too_large(limit, scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _authenticated(scope: Scope) -> int | None:
        """The id of the user the request's token belongs to, or None."""
        connection = HTTPConnection(scope)
        scheme, _, value = connection.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        token = token or connection.cookies.get(SESSION_COOKIE, "")
        if not token or len(token) > 200:
            return None
        sessions = scope["app"].state.sessionmaker

        def lookup() -> int | None:
            with sessions() as session:
                user = crud.user_for_token(session, token)
                return None if user is None else user.id

        return await run_in_threadpool(lookup)

    @staticmethod
    async def _refuse_anonymous(kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if kind == "page":
            response = RedirectResponse(f"/login?next={scope['path']}", status_code=303)
        else:
            response = error_response(
                401,
                "not_authenticated",
                "log in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/login); "
                "the upload was not read",
                headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
            )
        await response(scope, receive, send)

    @staticmethod
    async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is over the limit of {limit} bytes; send a smaller file"
        response: Response | None = None
        if upload_route(scope["method"], scope["path"]) == "page":
            # The upload form's browser gets a page with a way back, not the JSON body.
            from api.errors import APIError
            from api.pages.errors import error_page

            response = error_page(Request(scope), 413, APIError(413, message))
        if response is None:
            response = error_response(413, "payload_too_large", message)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()  # later calls wait for the disconnect, as before

    return replayed
