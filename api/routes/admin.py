"""Organizer dashboard data and account administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import crud, services
from api.deps import Organizer, PaginationDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.schemas import (
    FailureCount,
    Page,
    QueueOverview,
    RegisterRequest,
    StatusCount,
    TeamMove,
    UserPublic,
    WorkerPublic,
)

router = APIRouter(prefix="/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/overview", response_model=QueueOverview)
def overview(session: SessionDep, _organizer: Organizer) -> QueueOverview:
    """Submissions per state with the oldest per state, failures per category, workers."""
    return QueueOverview(
        statuses=[
            StatusCount(status=s, count=c, oldest_updated_at=o)
            for s, c, o in crud.status_overview(session)
        ],
        failures=[FailureCount(category=c, count=n) for c, n in crud.failures_by_category(session)],
        workers=[WorkerPublic.model_validate(w) for w in crud.list_workers(session)],
    )


@router.post("/organizers", response_model=UserPublic, status_code=201)
def create_organizer(
    body: RegisterRequest, session: SessionDep, _organizer: Organizer
) -> UserPublic:
    """Organizers add organizers (the first comes from `unlearn admin create-organizer`)."""
    user = services.accounts.create_organizer(
        session, email=body.email, password=body.password, display_name=body.display_name
    )
    return UserPublic.model_validate(user)


@router.get("/users", response_model=Page[UserPublic])
def list_users(
    session: SessionDep,
    _organizer: Organizer,
    page: PaginationDep,
    team_id: Annotated[int | None, Query(ge=1, description="only this team's members")] = None,
) -> Page[UserPublic]:
    rows, total = crud.list_users(session, limit=page.limit, offset=page.offset, team_id=team_id)
    return page.page([UserPublic.model_validate(u) for u in rows], total)


@router.put("/users/{user_id}/team", response_model=UserPublic)
def move_to_team(
    user_id: int, body: TeamMove, session: SessionDep, _organizer: Organizer
) -> UserPublic:
    """Move a participant to another team, also after they have submitted (participants
    cannot then change teams themselves). Their submissions so far stay with the old team."""
    user = crud.move_to_team(session, user_id=user_id, team_id=body.team_id)
    return UserPublic.model_validate(user)
