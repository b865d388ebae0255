"""Organizer dashboard data and account administration."""

from __future__ import annotations

from fastapi import APIRouter

from api import crud
from api.deps import Organizer, SessionDep
from api.errors import ERROR_RESPONSES
from api.models import Role
from api.schemas import (
    FailureCount,
    QueueOverview,
    RegisterRequest,
    StatusCount,
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
    user = crud.create_user(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        role=Role.ORGANIZER,
    )
    return UserPublic.model_validate(user)
