"""Account pages: sign up, change password, and the team (create, join by code, members and
code, leave before the first submission). Sign-up is `api.services.accounts.register`, as
the JSON route calls it; the rules are `api.crud.accounts`'; a refused action comes back as
the same form with the reason on it. Sign-up and the password change carry anti-CSRF tokens
(`api.pages.csrf`); a password change logs out every other session."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import crud, services
from api.deps import SESSION_COOKIE, OptionalUser, SessionDep, SettingsDep
from api.pages import csrf
from api.pages.errors import render_error
from api.pages.render import login_redirect, render, render_anonymous_form, safe_next
from api.schemas import RegisterRequest
from competition.models import Submission, TokenKind, User
from competition.settings import Settings

__all__ = ["router", "start_session"]

router = APIRouter()


def start_session(
    response: RedirectResponse, session: SessionDep, settings: Settings, user: User
) -> RedirectResponse:
    """Log the browser in: an HttpOnly session cookie bound to a stored token."""
    plaintext, _ = crud.create_token(
        session, user=user, kind=TokenKind.SESSION, ttl=timedelta(hours=settings.session_ttl_hours)
    )
    response.set_cookie(
        SESSION_COOKIE,
        plaintext,
        max_age=int(settings.session_ttl_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )
    return response


def _register_page(
    request: Request,
    user: User | None,
    status_code: int = 200,
    *,
    closed: bool,
    errors: dict[str, str],
    form: dict[str, str],
) -> HTMLResponse:
    """The sign-up form with its anti-CSRF token: sign-up sets a session, so a form posted
    from another site must not (login CSRF through sign-up, review F6)."""
    return render_anonymous_form(
        request, "register.html", user, status_code, closed=closed, errors=errors, form=form
    )


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, user: OptionalUser, settings: SettingsDep) -> HTMLResponse:
    closed = not services.accounts.registration_open(settings)
    return _register_page(request, user, closed=closed, errors={}, form={})


def _field_errors(exc: ValidationError) -> dict[str, str]:
    labels = {
        "email": "Enter an e-mail address such as name@example.org.",
        "password": "The password needs at least 8 characters.",
        "display_name": "Enter the name others will see.",
    }
    return {
        str(err["loc"][0]): labels.get(str(err["loc"][0]), err["msg"])
        for err in exc.errors()
        if err["loc"]
    }


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    team_choice: Annotated[str, Form(max_length=10)] = "new",
    team_name: Annotated[str, Form(max_length=100)] = "",
    join_code: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    form = {
        "next": next,
        "email": email,
        "display_name": display_name,
        "team_choice": team_choice,
        "team_name": team_name,
        "join_code": join_code,
    }
    if not csrf.anonymous_token_valid(request, csrf_token):
        expired = "This sign-up form has expired or was sent from another site; sign up here."
        return _register_page(request, None, 403, closed=False, errors={"form": expired}, form={})
    if not services.accounts.registration_open(settings):
        return _register_page(request, None, 403, closed=True, errors={}, form=form)
    joining = team_choice == "join"
    errors: dict[str, str] = {}
    try:
        body = RegisterRequest(
            email=email.strip(),
            password=password,
            display_name=display_name.strip(),
            team_name=None if joining else (team_name.strip() or None),
            join_code=(join_code.strip() or None) if joining else None,
        )
    except ValidationError as exc:
        errors = _field_errors(exc)
    if joining and not join_code.strip():
        errors["join_code"] = "Paste the join code a team mate gave you."
    if errors:
        return _register_page(request, None, 422, closed=False, errors=errors, form=form)
    try:
        user = services.accounts.register(
            session,
            settings,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            team_name=body.team_name,
            join_code=body.join_code,
        )
    except crud.CrudError as exc:
        # A taken e-mail comes back as the generic form error (ACCOUNT_REFUSED), never
        # beside the e-mail field: the page must not say which addresses have accounts.
        field = "join_code" if isinstance(exc, crud.NotFound) else "form"
        if "team name" in exc.message:
            field = "team_name"
        message = exc.message[0].upper() + exc.message[1:] + "."
        return _register_page(request, None, 409, closed=False, errors={field: message}, form=form)
    target = safe_next(next) if next else "/team"  # back where the sign-up started
    response = start_session(RedirectResponse(target, status_code=303), session, settings, user)
    csrf.forget_anonymous_token(response)
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return login_redirect(request)
    return render(request, "account.html", user, error=None, done=False)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if user is None:
        return login_redirect(request)
    if not csrf.session_token_valid(request, csrf_token):
        expired = "This form was sent from another site or has expired; try again here."
        return render(request, "account.html", user, 403, error=expired, done=False)
    if new != repeat:
        return render(
            request, "account.html", user, 422, error="The two new passwords differ.", done=False
        )
    try:
        # Every other session of this user ends: a password changed because it leaked
        # must also log out whoever used it.
        crud.change_password(
            session,
            user=user,
            current=current,
            new=new,
            keep_token=request.cookies.get(SESSION_COOKIE),
        )
    except crud.CrudError as exc:
        message = exc.message[0].upper() + exc.message[1:] + "."
        return render(request, "account.html", user, 422, error=message, done=False)
    return render(request, "account.html", user, error=None, done=True)


def _team_page(
    request: Request, session: SessionDep, user: User, *, error: str | None, status_code: int = 200
) -> HTMLResponse:
    team = user.team
    members = crud.team_members(session, team.id) if team else []
    has_submitted = (
        session.query(Submission.id).filter(Submission.user_id == user.id).first() is not None
    )
    return render(
        request,
        "team.html",
        user,
        status_code,
        team=team,
        members=members,
        can_change=not has_submitted and not user.is_organizer,
        error=error,
    )


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return login_redirect(request)
    return _team_page(request, session, user, error=None)


@router.post("/team/{action}", response_class=HTMLResponse)
def team_action(
    request: Request,
    action: str,
    session: SessionDep,
    user: OptionalUser,
    name: Annotated[str, Form(max_length=100)] = "",
    join_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if user is None:
        return login_redirect(request)
    try:
        if action == "create":
            if not name.strip():
                raise crud.Conflict("enter a team name")
            crud.create_team(session, user=user, name=name)
        elif action == "join":
            if not join_code.strip():
                raise crud.Conflict("paste the join code a team mate gave you")
            crud.join_team(session, user=user, join_code=join_code.strip())
        elif action == "leave":
            crud.leave_team(session, user=user)
        else:
            return render_error(request, user, 404, "No such team action.")
    except crud.CrudError as exc:
        session.rollback()
        message = exc.message[0].upper() + exc.message[1:] + "."
        return _team_page(request, session, user, error=message, status_code=409)
    return RedirectResponse("/team", status_code=303)
