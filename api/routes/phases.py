"""Phases: listed by anyone, created and changed by organizers; a team's quota in a phase."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api import crud
from api.deps import CurrentUser, Organizer, PaginationDep, SessionDep
from api.errors import ERROR_RESPONSES, APIError
from api.models import utcnow
from api.schemas import Page, PhaseCreate, PhasePublic, PhaseUpdate, QuotaPublic

router = APIRouter(prefix="/phases", tags=["phases"], responses=ERROR_RESPONSES)
PhaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=Page[PhasePublic])
def list_phases(session: SessionDep, page: PaginationDep) -> Page[PhasePublic]:
    rows, total = crud.list_phases(session, limit=page.limit, offset=page.offset)
    return page.page([PhasePublic.model_validate(p) for p in rows], total)


@router.post("", response_model=PhasePublic, status_code=201)
def create_phase(body: PhaseCreate, session: SessionDep, _organizer: Organizer) -> PhasePublic:
    return PhasePublic.model_validate(crud.create_phase(session, body))


@router.get("/{phase_id}", response_model=PhasePublic)
def read_phase(phase_id: PhaseId, session: SessionDep) -> PhasePublic:
    return PhasePublic.model_validate(crud.get_phase(session, phase_id))


@router.patch("/{phase_id}", response_model=PhasePublic)
def update_phase(
    phase_id: PhaseId, body: PhaseUpdate, session: SessionDep, _organizer: Organizer
) -> PhasePublic:
    phase = crud.get_phase(session, phase_id)
    return PhasePublic.model_validate(crud.update_phase(session, phase, body))


@router.get("/{phase_id}/quota", response_model=QuotaPublic)
def read_quota(phase_id: PhaseId, session: SessionDep, user: CurrentUser) -> QuotaPublic:
    """How many submissions your team has left today (UTC) in this phase."""
    phase = crud.get_phase(session, phase_id)
    if user.team_id is None:
        raise APIError(404, "you are not in a team")
    day = utcnow().date()
    used = crud.quota_used(session, team_id=user.team_id, phase_id=phase.id, day=day)
    return QuotaPublic(
        phase_id=phase.id,
        team_id=user.team_id,
        day=day.isoformat(),
        used=used,
        limit=phase.daily_quota,
        remaining=max(0, phase.daily_quota - used),
    )
