"""Server-rendered web pages (Jinja2): leaderboard, upload, a team's submissions and reports,
login, and the organizer dashboard.

Pages call the same use-cases (`api.services`) and read through the same `crud` and
`visibility` functions as the JSON API; small
`static/app.js` polls the JSON API to refresh states and boards without reloads. Browsers
authenticate with the `unlearn_session` cookie (HttpOnly, SameSite=Lax) set at login; the
forms that set or end a session carry anti-CSRF tokens signed with the secret key
(`api.pages.csrf`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import crud, services
from api.deps import (
    SESSION_COOKIE,
    OptionalUser,
    QueueDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    request_token,
)
from api.errors import APIError
from api.leaderboard import compute_leaderboard
from api.pages import accounts, console, csrf, kit, phase
from api.pages.accounts import start_session
from api.pages.errors import error_page, render_error
from api.pages.render import (
    STATIC_DIR,
    login_redirect,
    render,
    render_anonymous_form,
    safe_next,
)
from api.upload import UploadRejected
from api.visibility import can_see_private, sight
from competition.models import Submission, SubmissionStatus, User, utcnow

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, user: OptionalUser) -> HTMLResponse:
    organizer = user is not None and user.is_organizer
    phases, _ = crud.list_phases(session, limit=100, offset=0, include_archived=organizer)
    return render(request, "index.html", user, phases=phases, now=utcnow())


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
    if split == "private":
        board = crud.private_board(session, phase, utcnow())
    else:
        board = compute_leaderboard(session, phase, "public")
    return render(
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
        return login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    return render(request, "submit.html", user, phase=phase, problems=[], error=None)


@router.post(
    "/phases/{phase_id}/submit",
    response_class=HTMLResponse,
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
        return login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    try:
        submission = services.submissions.submit(
            session,
            settings=settings,
            store=store,
            queue=queue,
            user=user,
            phase_id=phase_id,
            file=file.file,
            filename=file.filename,
            declared_bytes=request.headers.get("content-length"),
        )
    except UploadRejected as exc:
        return render(
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
        return render(
            request,
            "submit.html",
            user,
            status_code=status,
            phase=phase,
            problems=[],
            error=exc.message,
        )
    return RedirectResponse(f"/submissions/{submission.id}?notice=uploaded", status_code=303)


@router.get("/submissions", response_class=HTMLResponse)
def submissions_page(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return login_redirect(request)
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
    views = [sight(user, s, now).submission_view() for s in rows]
    names = {s.phase_id: s.phase.name for s in rows}
    return render(
        request, "submissions.html", user, submissions=views, total=total, phase_names=names
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request, submission_id: int, session: SessionDep, store: StoreDep, user: OptionalUser
) -> Response:
    if user is None:
        return login_redirect(request)
    try:
        submission = services.submissions.visible_submission(
            session, viewer=user, submission_id=submission_id
        )
    except crud.NotFound:
        return render_error(
            request, user, 404, f"No submission {submission_id} among those you can see."
        )
    now = utcnow()
    view = sight(user, submission, now)
    logs = services.submissions.read_logs(store, viewer=user, submission=submission, now=now)
    results = crud.results_for(session, submission_id=submission.id, splits=view.splits)
    progress = crud.submission_progress(session, view)
    quota_left = None
    if not user.is_organizer and user.team_id == submission.team_id:
        day = utcnow().date()
        used = crud.quota_used(
            session, team_id=submission.team_id, phase_id=submission.phase_id, day=day
        )
        quota_left = max(0, submission.phase.daily_quota - used)
    return render(
        request,
        "submission.html",
        user,
        submission=view.submission_view(),
        phase=submission.phase,
        events=view.events_view(),
        results=results,
        logs=logs.text,
        logs_shown=logs.shown,
        progress=progress,
        quota_left=quota_left,
        runs_done=bool(progress.splits)
        and all(p.runs_done >= p.runs_total for p in progress.splits),
        plot_name=lambda key: Path(key).name,
        plot_alt=_plot_alt,
        plot_reading=_plot_reading,
    )


PLOT_TITLES = {
    "epsilons": "Histogram of per-example epsilon over the forget set; the examples at the "
    "cap have their own bar",
    "worst_examples": "Confidence distributions of the forget examples with the largest "
    "epsilon, unlearned vs retrained",
    "accuracies": "Retain, forget and test accuracy per model, unlearned vs retrained",
}


# One or two sentences under each plot: what to look for.
PLOT_READINGS = {
    "epsilons": "Epsilon is how well the best test on the outputs tells your models from the "
    "retrained ones on one example: bars near 0 are well forgotten examples, bars far right "
    "(and the bar at the cap) are examples that still give the training away.",
    "worst_examples": "Where the two curves overlap the example is forgotten; where they sit "
    "apart a trace remains. These are the examples that cost the most.",
    "accuracies": "Your models should sit where the retrained ones do: lower retain or test "
    "accuracy lowers the score, higher raises the ratios above 1; a forget accuracy well "
    "above the retrained models' shows remembered examples.",
}


def _plot_alt(key: str) -> str:
    stem = Path(key).stem
    return PLOT_TITLES.get(stem, stem.replace("_", " "))


def _plot_reading(key: str) -> str:
    return PLOT_READINGS.get(Path(key).stem, "")


@router.get("/admin", response_class=HTMLResponse)
def admin_page(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    phase_id: int | None = None,
    status: str = "",
    done: str = "",
) -> Response:
    if user is None:
        return login_redirect(request)
    if not user.is_organizer:
        return render_error(request, user, 403, "The console is for organizers.")
    chosen = SubmissionStatus(status) if status in set(SubmissionStatus) else None
    recent, total = crud.list_submissions(
        session, team_id=None, phase_id=phase_id, status=chosen, limit=100, offset=0
    )
    phases, _ = crud.list_phases(session, limit=200, offset=0)
    workers = crud.list_workers(session)
    jobs = [w.current_submission_id for w in workers if w.current_submission_id is not None]
    return render(
        request,
        "admin.html",
        user,
        statuses=crud.status_overview(session),
        failures=crud.failures_by_category(session),
        workers=workers,
        running=crud.still_running(session, jobs),
        recent=recent,
        total=total,
        phases=phases,
        preparations={p.id: crud.phase_readiness(session, p).state.value for p in phases},
        filters={"phase_id": phase_id, "status": chosen.value if chosen else ""},
        all_statuses=list(SubmissionStatus),
        done=done,
    )


for _module in (accounts, phase, kit, console):
    router.include_router(_module.router)

__all__ = ["STATIC_DIR", "error_page", "router"]
