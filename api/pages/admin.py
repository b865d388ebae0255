"""The organizer's dashboard at `/admin`: submissions per state, failures per category,
workers and what they run, the latest submissions (filtered by phase and status) and the
phases with their preparation. Its buttons post to the JSON API (`static/app.js`); the
phase forms are `api.pages.console`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api import crud
from api.deps import OptionalUser, SessionDep
from api.pages.errors import render_error
from api.pages.render import login_redirect, render
from competition.models import SubmissionStatus

__all__ = ["router"]

router = APIRouter()


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
