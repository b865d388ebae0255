"""Phase use-cases that end in a request to the workers: create, edit, prepare again.

Each commits through `api.crud.phases` (pending preparation rows first), then asks the
queue to prepare the phase (`handover`, one failure policy: the pending rows are the
record). An edit prepares again only when it changed what the references are trained from.
A refused edit (`competition.errors.Conflict`, or pydantic's `ValidationError` when the
edited experiment fails the registries' checks) leaves the session rolled back, so the
caller may read the phase as stored to show the form again.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import crud, schemas
from api.services.handover import send_after_commit
from competition.errors import CrudError
from competition.models import Phase
from competition.queue import EvaluationQueue

__all__ = ["create", "edit", "prepare_again"]


def create(session: Session, queue: EvaluationQueue, *, body: schemas.PhaseCreate) -> Phase:
    """A new phase (`Conflict` for a taken name); its preparation starts on the workers."""
    phase = crud.create_phase(session, body)
    send_after_commit(queue.prepare_phase, phase.id, what=f"preparation of phase {phase.id}")
    return phase


def edit(session: Session, queue: EvaluationQueue, phase: Phase, body: schemas.PhaseUpdate) -> bool:
    """Apply the edit; True when it changed the training, and the phase is being prepared
    again. Experiment fields change only before the first scored submission (`Conflict`)."""
    try:
        retrain = crud.update_phase(session, phase, body)
    except (ValidationError, CrudError):
        session.rollback()
        raise
    if retrain:
        send_after_commit(queue.prepare_phase, phase.id, what=f"preparation of phase {phase.id}")
    return retrain


def prepare_again(session: Session, queue: EvaluationQueue, *, phase: Phase) -> None:
    """Both splits back to pending (after the cause of a failure was fixed), then prepared."""
    crud.prepare_again(session, phase)
    send_after_commit(queue.prepare_phase, phase.id, what=f"preparation of phase {phase.id}")
