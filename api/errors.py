"""One error body for every failure: `{"error": {"code", "message", "details"}}`.

Maps the exceptions raised below the routes (crud's `CrudError`s, upload's `UploadRejected`,
FastAPI's validation and HTTP errors) to status codes and `schemas.ErrorBody`. Unexpected
exceptions become a fixed "internal error" text and a logged traceback, never a stack trace
in the response. A browser's visit to a page (not /api/) gets an HTML page instead, from the
`page` callable given by the app factory (api.pages.errors), which this layer cannot import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import crud
from api.schemas import ErrorBody, ErrorDetail, ErrorInfo
from api.upload import UploadRejected

logger = logging.getLogger(__name__)

__all__ = ["ERROR_RESPONSES", "APIError", "error_response", "install_error_handlers"]

_STATUS_BY_CRUD_ERROR: dict[type[crud.CrudError], int] = {
    crud.NotFound: 404,
    crud.Conflict: 409,
    crud.QuotaExceeded: 429,
    crud.TooManyInFlight: 429,
    crud.PhaseClosed: 403,
    crud.PhaseUnavailable: 409,
    crud.StaleAttempt: 409,
}
_CODE_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}

# Declared on every router so the OpenAPI schema documents the error body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


class APIError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code or _CODE_BY_STATUS.get(status_code, "error")
        self.details = details or []
        self.headers = headers


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=details or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


# A browser's page for an error (api.pages.errors.error_page), or None to answer JSON.
ErrorPage = Callable[[Request, int, Exception], Response | None]


def install_error_handlers(app: FastAPI, *, page: ErrorPage | None = None) -> None:
    """JSON error bodies; with `page`, a browser's visit outside /api/ gets its page."""

    def html(request: Request, status_code: int, exc: Exception) -> Response | None:
        return page(request, status_code, exc) if page is not None else None

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> Response:
        if (shown := html(request, exc.status_code, exc)) is not None:
            return shown
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(crud.CrudError)
    async def _crud_error(request: Request, exc: crud.CrudError) -> Response:
        status = _STATUS_BY_CRUD_ERROR.get(type(exc), 409)
        if (shown := html(request, status, exc)) is not None:
            return shown
        return error_response(status, exc.code, exc.message)

    @app.exception_handler(UploadRejected)
    async def _upload_rejected(_: Request, exc: UploadRejected) -> JSONResponse:
        details = [
            ErrorDetail(message=p.message, file=p.file, line=p.line, column=p.column)
            for p in exc.problems
        ]
        status = 413 if exc.too_large else 422
        code = "payload_too_large" if exc.too_large else "invalid_submission"
        return error_response(status, code, "the submission was rejected: " + str(exc), details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if (shown := html(request, 422, exc)) is not None:
            return shown
        details = [
            ErrorDetail(
                message=str(err.get("msg", "invalid")),
                field=".".join(str(part) for part in err.get("loc", ())),
            )
            for err in exc.errors()
        ]
        return error_response(422, "invalid_request", "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if (shown := html(request, exc.status_code, exc)) is not None:
            return shown
        code = _CODE_BY_STATUS.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        try:
            if (shown := html(request, 500, exc)) is not None:
                return shown
        except Exception:  # the page itself failed: the fixed JSON text still goes out
            logger.exception("the error page failed on %s", request.url.path)
        return error_response(500, "internal_error", "An unexpected error occurred.")
