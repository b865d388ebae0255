"""Log in and log out in a browser: the login form (with its anti-CSRF token), the session
cookie it starts (`api.pages.accounts.start_session`), and the logout that revokes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import crud
from api.deps import SESSION_COOKIE, OptionalUser, SessionDep, SettingsDep, request_token
from api.pages import csrf
from api.pages.accounts import start_session
from api.pages.render import render, render_anonymous_form, safe_next
from competition.models import User

__all__ = ["router"]

router = APIRouter()


def _login_page(
    request: Request,
    user: User | None,
    *,
    next: str,
    error: str | None,
    status_code: int = 200,
    email: str = "",
) -> HTMLResponse:
    """The login form with its anti-CSRF token (`api.pages.csrf`): a login posted from
    another site has no token that matches (login CSRF, hole 8 of issue 11)."""
    return render_anonymous_form(
        request, "login.html", user, status_code, next=safe_next(next), error=error, email=email
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser, next: str = "/") -> HTMLResponse:
    return _login_page(request, user, next=next, error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not csrf.anonymous_token_valid(request, csrf_token):
        return _login_page(
            request,
            None,
            status_code=403,
            next=next,
            error="This login form has expired or was sent from another site; log in here.",
            email=email,
        )
    user = crud.authenticate(session, email=email, password=password)
    if user is None:
        return _login_page(
            request,
            None,
            status_code=401,
            next=next,
            error="Wrong e-mail or password.",
            email=email,
        )
    response = start_session(
        RedirectResponse(safe_next(next), status_code=303), session, settings, user
    )
    csrf.forget_anonymous_token(response)
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End this browser's session. Only the page's own form may: a cross-site post carries
    no session cookie and no token, and is refused without touching the cookie."""
    if not csrf.session_token_valid(request, csrf_token):
        return render(
            request,
            "error.html",
            user,
            status_code=403,
            message="This logout form was sent from another site or has expired; use the "
            "Log out button on this site.",
        )
    token = request_token(request)
    if token:
        crud.revoke_token_by_plaintext(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
