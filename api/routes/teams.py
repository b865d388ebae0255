"""Teams: the unit of quota and of leaderboard rows. Names are public; join codes are not."""

from __future__ import annotations

from fastapi import APIRouter

from api import crud
from api.deps import CurrentUser, PaginationDep, SessionDep
from api.errors import ERROR_RESPONSES, APIError
from api.schemas import Page, TeamCreate, TeamJoin, TeamPrivate, TeamPublic
from competition.models import Team

router = APIRouter(prefix="/teams", tags=["teams"], responses=ERROR_RESPONSES)


def _private(session: SessionDep, team: Team) -> TeamPrivate:
    return TeamPrivate(
        id=team.id,
        name=team.name,
        join_code=team.join_code,
        members=crud.team_members(session, team.id),
    )


@router.get("", response_model=Page[TeamPublic])
def list_teams(session: SessionDep, page: PaginationDep) -> Page[TeamPublic]:
    rows, total = crud.list_teams(session, limit=page.limit, offset=page.offset)
    return page.page([TeamPublic.model_validate(t) for t in rows], total)


@router.get("/mine", response_model=TeamPrivate)
def read_my_team(session: SessionDep, user: CurrentUser) -> TeamPrivate:
    if user.team is None:
        raise APIError(404, "you are not in a team; create one or join with a code")
    return _private(session, user.team)


@router.post("", response_model=TeamPrivate, status_code=201)
def create_team(body: TeamCreate, session: SessionDep, user: CurrentUser) -> TeamPrivate:
    """Leave your current team for a new one (only before your first submission)."""
    return _private(session, crud.create_team(session, user=user, name=body.name))


@router.post("/join", response_model=TeamPrivate)
def join_team(body: TeamJoin, session: SessionDep, user: CurrentUser) -> TeamPrivate:
    return _private(session, crud.join_team(session, user=user, join_code=body.join_code))
