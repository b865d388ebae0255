"""Error pages for browsers: every error a browser can reach is a page with a plain
explanation and links back, while the API keeps its JSON body.

`api.errors` asks `error_page(request, status, exc)` first in each of its handlers: it
answers HTML when the request is a browser's (its Accept names text/html) for a path outside
`/api/`, and None otherwise (then the JSON body goes out). Pages that refuse something
themselves (a submission of another team, a phase that cannot be deleted) call
`render_error` with the viewer they already have.

The texts are fixed per status; a message from below (crud's, meant for users) is added
under it. Nothing else of the exception reaches the page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import crud
from api.deps import request_token
from api.pages.render import render
from competition.models import Phase, User

__all__ = ["Link", "error_page", "render_error", "wants_html"]

logger = logging.getLogger(__name__)

API_PATHS = ("/api/", "/metrics")
PHASE_IN_PATH = re.compile(r"^/phases/(\d{1,10})(?:/|$)")


@dataclass(frozen=True)
class Link:
    href: str
    label: str


# Heading and explanation by status; the rest share the generic one.
TEXTS: dict[int, tuple[str, str]] = {
    401: ("Please log in", "This page is for signed-in participants and organizers."),
    403: ("Not allowed", "Your account cannot open this page or do this action."),
    404: (
        "Page not found",
        "Nothing is at this address: the link may be mistyped, or what it pointed to was "
        "removed or belongs to another team.",
    ),
    405: (
        "Not a page",
        "This address answers a button or form of the site, not a visit: go back and use "
        "the button.",
    ),
    409: ("Not possible now", "The site refused this action in the state things are in."),
    413: ("Too large", "What was sent is larger than the site accepts."),
    422: ("Address not valid", "Part of this address or form is not in the expected form."),
    429: ("Too many requests", "Wait a minute, then try again."),
    500: (
        "Something went wrong",
        "An error on our side stopped this page. It has been logged for the organizers; "
        "try again in a minute.",
    ),
    503: ("Not available", "This part of the site is not available right now."),
}
GENERIC = ("Something went wrong", "The site could not answer this request.")


def wants_html(request: Request) -> bool:
    """A browser's visit: Accept names text/html and the path is not the API's."""
    if request.url.path.startswith(API_PATHS):
        return False
    return "text/html" in request.headers.get("accept", "")


def _sentence(message: str) -> str:
    text = message.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def render_error(
    request: Request,
    user: User | None,
    status_code: int,
    message: str = "",
    *,
    links: Sequence[Link] = (),
    phase: Phase | None = None,
) -> HTMLResponse:
    """The error page: heading and explanation for the status, the message from below,
    and links back (those given, the phase, the viewer's submissions, the home page)."""
    title, explanation = TEXTS.get(status_code, GENERIC)
    back = list(links)
    if phase is not None:
        back.append(Link(f"/phases/{phase.id}", f"Back to {phase.name}"))
    if status_code == 401 or (status_code == 403 and user is None):
        back.append(Link(f"/login?next={request.url.path}", "Log in"))
    if user is not None:
        mine = "All submissions" if user.is_organizer else "Your team's submissions"
        back.append(Link("/submissions", mine))
    back.append(Link("/", "All phases (home)"))
    return render(
        request,
        "error.html",
        user,
        status_code=status_code,
        title=title,
        explanation=explanation,
        message=_sentence(message),
        links=back,
    )


def _message(exc: Exception) -> str:
    """The part of an exception meant for users: crud's and the API's messages, the fields
    of an invalid address in words; never a framework's default phrase."""
    if isinstance(exc, RequestValidationError):
        parts = []
        for error in exc.errors():
            where, name = (list(error.get("loc", ())) + ["", ""])[:2]
            value = error.get("input")
            label = str(name).removesuffix("_id").replace("_", " ")
            if where in ("path", "query") and isinstance(value, str):
                wanted = "a number" if "int" in str(error.get("type", "")) else "valid"
                parts.append(f"“{value[:40]}” is not {wanted} as the {label} in this address")
            elif where in ("path", "query"):
                parts.append(f"the {label} in this address is out of range")
        return "; ".join(parts)
    if isinstance(exc, StarletteHTTPException):
        return "" if exc.detail == HTTPStatus(exc.status_code).phrase else str(exc.detail)
    message = getattr(exc, "message", "")
    return message if isinstance(message, str) else ""


def error_page(request: Request, status_code: int, exc: Exception) -> HTMLResponse | None:
    """The page for an error raised below a route, or None when JSON should answer.

    Looks up the viewer (for the header) and the phase named in the path (for a link back)
    in a session of its own; an internal error skips the database, which may be its cause.
    """
    if not wants_html(request):
        return None
    message = "" if status_code >= 500 else _message(exc)
    if status_code >= 500:
        return render_error(request, None, status_code, message)
    factory = getattr(request.app.state, "sessionmaker", None)
    if factory is None:
        return render_error(request, None, status_code, message)
    with factory() as session:
        token = request_token(request)
        user = crud.user_for_token(session, token) if token and len(token) <= 200 else None
        match = PHASE_IN_PATH.match(request.url.path)
        phase_id = int(match.group(1)) if match else 0
        phase = session.get(Phase, phase_id) if 0 < phase_id < 2**31 else None
        if phase is not None and phase.archived and not (user and user.is_organizer):
            phase = None
        return render_error(request, user, status_code, message, phase=phase)
