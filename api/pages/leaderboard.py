"""A phase's leaderboard page: the public board for everyone, the private one where
`api.visibility.can_see_private` allows it (organizers always, teams after the end: the
frozen snapshot, `api.crud.snapshots`). A private board asked for too early shows the public
one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import crud
from api.deps import OptionalUser, SessionDep
from api.leaderboard import compute_leaderboard
from api.pages.render import render
from api.visibility import can_see_private
from competition.models import utcnow

__all__ = ["router"]

router = APIRouter()


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
