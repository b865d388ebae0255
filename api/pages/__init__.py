"""Server-rendered web pages (Jinja2): leaderboard, upload, a team's submissions and reports,
login, and the organizer dashboard.

Pages read through the same `crud` and `visibility` functions as the JSON API; small
`static/app.js` polls the JSON API to refresh states and boards without reloads. Browsers
authenticate with the `unlearn_session` cookie (HttpOnly, SameSite=Lax) set at login.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import crud
from api.deps import (
    SESSION_COOKIE,
    OptionalUser,
    QueueDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    can_see_submission,
    request_token,
)
from api.errors import APIError
from api.leaderboard import compute_leaderboard
from api.models import Submission, TokenKind, User, utcnow
from api.ratelimit import rate_limited
from api.routes.submissions import submit
from api.upload import UploadRejected
from api.visibility import can_see_logs, can_see_private, submission_view, visible_splits

PAGES_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGES_DIR / "static"
templates = Jinja2Templates(directory=PAGES_DIR / "templates")
router = APIRouter()


def _render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, user: OptionalUser) -> HTMLResponse:
    phases, _ = crud.list_phases(session, limit=100, offset=0)
    return _render(request, "index.html", user, phases=phases, now=utcnow())


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", user, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(rate_limited("login"))])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    user = crud.authenticate(session, email=email, password=password)
    if user is None:
        return _render(
            request,
            "login.html",
            None,
            status_code=401,
            next=_safe_next(next),
            error="Wrong e-mail or password.",
        )
    plaintext, _ = crud.create_token(
        session, user=user, kind=TokenKind.SESSION, ttl=timedelta(hours=settings.session_ttl_hours)
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        plaintext,
        max_age=int(settings.session_ttl_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request_token(request)
    if token:
        crud.revoke_token_by_plaintext(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/phases/{phase_id}/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser, split: str = "public"
) -> HTMLResponse:
    phase = crud.get_phase(session, phase_id)
    if split not in ("public", "private"):
        split = "public"
    private_allowed = can_see_private(user, phase, utcnow())
    if split == "private" and not private_allowed:
        split = "public"
    board = compute_leaderboard(session, phase, split)  # type: ignore[arg-type]
    return _render(
        request,
        "leaderboard.html",
        user,
        phase=phase,
        board=board,
        split=split,
        private_allowed=private_allowed,
    )


@router.get("/phases/{phase_id}/submit", response_class=HTMLResponse)
def submit_form(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser
) -> Response:
    if user is None:
        return _login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    return _render(request, "submit.html", user, phase=phase, problems=[], error=None)


@router.post(
    "/phases/{phase_id}/submit",
    response_class=HTMLResponse,
    dependencies=[Depends(rate_limited("upload"))],
)
def submit_upload(
    request: Request,
    phase_id: int,
    file: Annotated[UploadFile, File()],
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    queue: QueueDep,
    user: OptionalUser,
) -> Response:
    if user is None:
        return _login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    try:
        submission = submit(
            request,
            file,
            session=session,
            settings=settings,
            store=store,
            queue=queue,
            user=user,
            phase_id=phase_id,
        )
    except UploadRejected as exc:
        return _render(
            request,
            "submit.html",
            user,
            status_code=422,
            phase=phase,
            problems=exc.problems,
            error="The submission was rejected.",
        )
    except (APIError, crud.CrudError) as exc:
        status = exc.status_code if isinstance(exc, APIError) else 409
        return _render(
            request,
            "submit.html",
            user,
            status_code=status,
            phase=phase,
            problems=[],
            error=exc.message,
        )
    return RedirectResponse(f"/submissions/{submission.id}", status_code=303)


@router.get("/submissions", response_class=HTMLResponse)
def submissions_page(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    if not user.is_organizer and user.team_id is None:
        rows: list[Submission] = []
        total = 0
    else:
        rows, total = crud.list_submissions(
            session,
            team_id=None if user.is_organizer else user.team_id,
            phase_id=None,
            status=None,
            limit=100,
            offset=0,
        )
    now = utcnow()
    views = [submission_view(s, user, now) for s in rows]
    return _render(request, "submissions.html", user, submissions=views, total=total)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request, submission_id: int, session: SessionDep, store: StoreDep, user: OptionalUser
) -> Response:
    if user is None:
        return _login_redirect(request)
    submission = session.get(Submission, submission_id)
    if submission is None or not can_see_submission(user, submission):
        return _render(
            request,
            "error.html",
            user,
            status_code=404,
            message=f"Submission {submission_id} not found.",
        )
    now = utcnow()
    logs_shown = can_see_logs(user, submission.phase)
    logs = ""
    if logs_shown and submission.logs_key and store.exists(submission.logs_key):
        logs = store.get_bytes(submission.logs_key).decode("utf-8", errors="replace")
    results = crud.results_for(
        session, submission_id=submission.id, splits=visible_splits(user, submission.phase, now)
    )
    return _render(
        request,
        "submission.html",
        user,
        submission=submission_view(submission, user, now),
        phase=submission.phase,
        events=submission.events,
        results=results,
        logs=logs,
        logs_shown=logs_shown,
        plot_name=lambda key: Path(key).name,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    if not user.is_organizer:
        return _render(
            request, "error.html", user, status_code=403, message="The dashboard is for organizers."
        )
    recent, _ = crud.list_submissions(
        session, team_id=None, phase_id=None, status=None, limit=50, offset=0
    )
    return _render(
        request,
        "admin.html",
        user,
        statuses=crud.status_overview(session),
        failures=crud.failures_by_category(session),
        workers=crud.list_workers(session),
        recent=recent,
    )
