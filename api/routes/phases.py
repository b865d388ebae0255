"""Phases: listed by anyone, created and changed by organizers; a team's quota in a phase;
the leaderboard seeds, for organizers only. Create, edit and prepare again are the use-cases
of `api.services.phases`, shared with the console's pages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api import crud, services
from api.deps import (
    CurrentUser,
    OptionalUser,
    Organizer,
    PaginationDep,
    PathId,
    QueueDep,
    SessionDep,
)
from api.errors import ERROR_RESPONSES, APIError
from api.schemas import (
    Message,
    Page,
    PhaseCreate,
    PhasePublic,
    PhaseSecretsPublic,
    PhaseUpdate,
    PreparationPublic,
    QuotaPublic,
    SplitPreparationPublic,
)
from api.visibility import can_see_private
from competition.models import Phase, User, utcnow

router = APIRouter(prefix="/phases", tags=["phases"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[PhasePublic])
def list_phases(session: SessionDep, page: PaginationDep) -> Page[PhasePublic]:
    rows, total = crud.list_phases(session, limit=page.limit, offset=page.offset)
    return page.page([PhasePublic.model_validate(p) for p in rows], total)


@router.post("", response_model=PhasePublic, status_code=201)
def create_phase(
    body: PhaseCreate, session: SessionDep, _organizer: Organizer, queue: QueueDep
) -> PhasePublic:
    """Create a phase; its preparation (the reference models) starts on the workers."""
    phase = services.phases.create(session, queue, body=body)
    return PhasePublic.model_validate(phase)


@router.get("/{phase_id}", response_model=PhasePublic)
def read_phase(phase_id: PathId, session: SessionDep) -> PhasePublic:
    return PhasePublic.model_validate(crud.get_phase(session, phase_id))


@router.patch("/{phase_id}", response_model=PhasePublic)
def update_phase(
    phase_id: PathId,
    body: PhaseUpdate,
    session: SessionDep,
    _organizer: Organizer,
    queue: QueueDep,
) -> PhasePublic:
    """Change a phase. Dataset, model, recipe, replicas and splits only before the first
    submission (409 after), checked like a new phase (422); the phase is then prepared again."""
    phase = crud.get_phase(session, phase_id)
    try:
        services.phases.edit(session, queue, phase=phase, body=body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return PhasePublic.model_validate(phase)


@router.get("/{phase_id}/preparation", response_model=PreparationPublic)
def read_preparation(
    phase_id: PathId, session: SessionDep, user: OptionalUser
) -> PreparationPublic:
    """Whether the phase can run: each split's reference models (pending, preparing with
    progress, ready, failed). Organizers also see why a preparation failed."""
    return preparation_public(session, crud.get_phase(session, phase_id), user)


@router.post("/{phase_id}/prepare", response_model=PreparationPublic, status_code=202)
def prepare_again(
    phase_id: PathId, session: SessionDep, organizer: Organizer, queue: QueueDep
) -> PreparationPublic:
    """Prepare the phase again, e.g. after fixing what made its preparation fail."""
    phase = crud.get_phase(session, phase_id)
    services.phases.prepare_again(session, queue, phase=phase)
    return preparation_public(session, phase, organizer)


def preparation_public(session: SessionDep, phase: Phase, user: User | None) -> PreparationPublic:
    ready = crud.phase_readiness(session, phase)
    return PreparationPublic(
        phase_id=phase.id,
        state=ready.state,
        splits=[_split_preparation(split, user, phase) for split in ready.splits],
        error=(ready.error or None) if user is not None and user.is_organizer else None,
    )


def _split_preparation(split: object, user: User | None, phase: Phase) -> SplitPreparationPublic:
    """One split's preparation; the private split's retraining time (the efficiency gate's
    yardstick there, and a figure that grows with its retain set) only where private figures
    may be seen (`api.visibility.can_see_private`)."""
    view = SplitPreparationPublic.model_validate(split)
    if view.split == "private" and not can_see_private(user, phase, utcnow()):
        view = view.model_copy(update={"retrain_seconds": None})
    return view


@router.get("/{phase_id}/secrets", response_model=PhaseSecretsPublic)
def read_secrets(
    phase_id: PathId, session: SessionDep, _organizer: Organizer
) -> PhaseSecretsPublic:
    """Organizers: the seeds of the public and private leaderboard splits."""
    phase = crud.get_phase(session, phase_id)
    return PhaseSecretsPublic.model_validate(crud.phase_secrets(session, phase))


@router.delete("/{phase_id}", response_model=Message)
def delete_phase(phase_id: PathId, session: SessionDep, _organizer: Organizer) -> Message:
    """Delete a phase nobody has submitted to; one with submissions can be archived."""
    phase = crud.get_phase(session, phase_id)
    crud.delete_phase(session, phase)
    return Message(message=f"phase {phase_id} deleted")


@router.post("/{phase_id}/archive", response_model=PhasePublic)
def archive_phase(
    phase_id: PathId, session: SessionDep, _organizer: Organizer, undo: bool = False
) -> PhasePublic:
    """Hide the phase and close it to uploads (`undo=true` brings it back)."""
    phase = crud.get_phase(session, phase_id)
    return PhasePublic.model_validate(crud.archive_phase(session, phase, archived=not undo))


@router.get("/{phase_id}/quota", response_model=QuotaPublic)
def read_quota(phase_id: PathId, session: SessionDep, user: CurrentUser) -> QuotaPublic:
    """How many submissions your team has left today (UTC) in this phase."""
    phase = crud.get_phase(session, phase_id)
    if user.team_id is None:
        raise APIError(404, "you are not in a team")
    quota = services.phases.quota_today(
        session, phase=phase, team_id=user.team_id, day=utcnow().date()
    )
    return QuotaPublic(
        phase_id=phase.id,
        team_id=user.team_id,
        day=quota.day.isoformat(),
        used=quota.used,
        limit=quota.limit,
        remaining=quota.remaining,
    )
