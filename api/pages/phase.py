"""The phases in a browser: the home page lists them (organizers also see archived ones);
the phase page is where a competition lives: overview (the organizer's Markdown), rules with
a countdown, whether the phase is prepared (organizers also see why it failed, and prepare it
again), data and starting kit (its download, the install command and the phase's own dry-run
command), the public leaderboard, and the viewer's team's submissions with the quota left
today."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import crud, services
from api.deps import OptionalUser, SessionDep
from api.leaderboard import compute_leaderboard
from api.pages.render import render
from api.visibility import sight
from competition.models import Phase, utcnow

__all__ = ["phase_state", "router"]

router = APIRouter()


def phase_state(phase: Phase, now: object) -> str:
    """archived, upcoming, open or ended."""
    if phase.archived:
        return "archived"
    if now < phase.starts_at:  # type: ignore[operator]
        return "upcoming"
    return "ended" if phase.has_ended(now) else "open"  # type: ignore[arg-type]


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, user: OptionalUser) -> HTMLResponse:
    organizer = user is not None and user.is_organizer
    phases, _ = crud.list_phases(session, limit=100, offset=0, include_archived=organizer)
    return render(request, "index.html", user, phases=phases, now=utcnow())


@router.get("/phases/{phase_id}", response_class=HTMLResponse)
def phase_page(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser
) -> HTMLResponse:
    phase = crud.get_phase(session, phase_id)
    now = utcnow()
    mine, quota_left = [], None
    if user is not None and user.team_id is not None:
        rows, _ = crud.list_submissions(
            session, team_id=user.team_id, phase_id=phase.id, status=None, limit=50, offset=0
        )
        mine = [sight(user, s, now).submission_view() for s in rows]
        quota_left = services.phases.quota_today(
            session, phase=phase, team_id=user.team_id, day=now.date()
        ).remaining
    return render(
        request,
        "phase.html",
        user,
        phase=phase,
        state=phase_state(phase, now),
        board=compute_leaderboard(session, phase, "public"),
        mine=mine,
        quota_left=quota_left,
        readiness=crud.phase_readiness(session, phase),
    )
