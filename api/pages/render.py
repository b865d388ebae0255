"""The pages' Jinja2 environment and the helpers every page module shares: render a template
with the viewer, send an anonymous viewer to the login page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.pages import format as fmt
from api.pages.markdown import render_markdown
from competition.models import User

__all__ = ["PAGES_DIR", "STATIC_DIR", "login_redirect", "render", "templates"]

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
)
templates.env.globals.update(
    report_rows=fmt.report_rows, mia_rows=fmt.mia_rows, secondary_rows=fmt.secondary_rows
)


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
