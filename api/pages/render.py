"""The pages' Jinja2 environment and the helpers every page module shares: render a template
with the viewer, send an anonymous viewer to the login page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.pages import format as fmt
from api.pages import words
from api.pages.csrf import anonymous_token, session_token, set_anonymous_cookie
from api.pages.kit import commands as kit_commands
from api.pages.markdown import render_markdown
from competition.models import User

__all__ = [
    "PAGES_DIR",
    "STATIC_DIR",
    "login_redirect",
    "render",
    "render_anonymous_form",
    "safe_next",
    "templates",
]

PAGES_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGES_DIR / "static"
templates = Jinja2Templates(directory=PAGES_DIR / "templates")
templates.env.filters.update(
    score=fmt.score,
    interval=fmt.interval,
    percent=fmt.percent,
    duration=fmt.duration,
    utc=fmt.utc,
    markdown=render_markdown,
    sentence=words.sentence,
    status_words=words.status_words,
    failure_words=words.failure_words,
    phase_state_words=words.phase_state_words,
    preparation_words=words.preparation_words,
    stage_words=words.stage_words,
    split_words=words.split_words,
    interface_words=words.interface_words,
    estimator_words=words.estimator_words,
)
templates.env.globals.update(
    read_report=fmt.read_report,
    report_rows=fmt.report_rows,
    mia_rows=fmt.mia_rows,
    secondary_rows=fmt.secondary_rows,
    kit_for=kit_commands,
    event_words=words.event_words,
    split_spec_words=words.split_spec_words,
    phase_fields=words.phase_fields,
    client_words=words.client_words(),
    notices=words.NOTICES,
    prepare_button=words.PREPARE_BUTTON,
)


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page; `session_csrf` is the logged-in user's form token (the logout form's)."""
    context = {"user": user, "session_csrf": session_token(request) if user else "", **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def render_anonymous_form(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page whose form may start a session (log in, sign up): a fresh anti-CSRF token in
    the form (`csrf_token`) and in its cookie, so a form posted from another site fails."""
    token = anonymous_token(request)
    response = render(request, name, user, status_code, csrf_token=token, **context)
    set_anonymous_cookie(request, response, token)
    return response


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def safe_next(target: str) -> str:
    """`target` when it is a path on this site, else "/": an open redirect after login is a
    phishing aid. Browsers read a backslash as a slash (`/\\evil.example` is
    `//evil.example`, another host) and drop tabs and newlines, so neither may appear."""
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"
