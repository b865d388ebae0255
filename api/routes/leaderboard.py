"""Leaderboards as JSON, and their export as CSV or JSON files.

The public board is open to everyone. The private board is open to organizers always and to
everyone once the phase has ended, from when it is frozen (`crud.private_board`): later
changes reach it only when an organizer refreezes it, and each version is in its history.
Answers come from `LeaderboardCache` (short TTL): a cache hit on the public board costs no
database query.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api import crud
from api.deps import OptionalUser, Organizer, PathId, SessionDep, get_optional_user
from api.errors import ERROR_RESPONSES, APIError
from api.leaderboard import LeaderboardCache, compute_leaderboard, to_csv
from api.schemas import Leaderboard, RefreezeRequest, SnapshotPublic
from api.visibility import can_see_private
from competition.models import utcnow

router = APIRouter(prefix="/phases/{phase_id}", tags=["leaderboard"], responses=ERROR_RESPONSES)
SplitQuery = Annotated[Literal["public", "private"], Query()]


async def _board_json(request: Request, phase_id: int, split: str) -> bytes:
    """The serialized board. A fresh public cache hit is answered on the event loop with no
    thread hop and no database query; everything else runs in the thread pool."""
    cache: LeaderboardCache = request.app.state.leaderboard_cache
    if split == "public":
        body, usable = cache.lookup((phase_id, split))
        if body is not None and usable:
            return body
    return await run_in_threadpool(_board_json_sync, request, phase_id, split)


def _board_json_sync(request: Request, phase_id: int, split: str) -> bytes:
    cache: LeaderboardCache = request.app.state.leaderboard_cache
    with request.app.state.sessionmaker() as session:
        if split == "private":
            phase = crud.get_phase(session, phase_id)
            user = get_optional_user(request, session)
            if not can_see_private(user, phase, utcnow()):
                raise APIError(403, "the private leaderboard is shown when the phase ends")

        def build() -> bytes:
            phase = crud.get_phase(session, phase_id)
            if split == "private":
                board = crud.private_board(session, phase, utcnow())
            else:
                board = compute_leaderboard(session, phase, "public")
            return board.model_dump_json().encode("utf-8")

        return cache.get_or_build((phase_id, split), build)


@router.get("/leaderboard", response_model=Leaderboard)
async def read_leaderboard(
    phase_id: PathId, request: Request, split: SplitQuery = "public"
) -> Response:
    """Ranked rows with confidence intervals; ties marked, earlier submission wins a tie."""
    return Response(await _board_json(request, phase_id, split), media_type="application/json")


@router.get(
    "/leaderboard/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export_leaderboard(
    phase_id: PathId,
    request: Request,
    split: SplitQuery = "public",
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
) -> Response:
    """Download the leaderboard as a file."""
    body = await _board_json(request, phase_id, split)
    name = f"leaderboard-phase{phase_id}-{split}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "json":
        return Response(body, media_type="application/json", headers=headers)
    board = Leaderboard.model_validate_json(body)
    return Response(to_csv(board), media_type="text/csv", headers=headers)


@router.post("/leaderboard/refreeze", response_model=Leaderboard)
def refreeze_private_board(
    phase_id: PathId,
    body: RefreezeRequest,
    request: Request,
    session: SessionDep,
    organizer: Organizer,
) -> Leaderboard:
    """Organizers, after the phase's end: freeze the private board again from today's scores
    (after a rescore or a disqualification), with the reason; a new version in its history."""
    board = crud.refreeze(
        session, crud.get_phase(session, phase_id), organizer=organizer, reason=body.reason
    )
    request.app.state.leaderboard_cache.invalidate()
    return board


@router.get("/leaderboard/history", response_model=list[SnapshotPublic])
def private_board_history(
    phase_id: PathId, session: SessionDep, user: OptionalUser
) -> list[SnapshotPublic]:
    """Every frozen version of the private board: when, by whom (null: at the end), why."""
    phase = crud.get_phase(session, phase_id)
    if not can_see_private(user, phase, utcnow()):
        raise APIError(403, "the private leaderboard is shown when the phase ends")
    return [SnapshotPublic.model_validate(s) for s in crud.snapshot_history(session, phase)]
