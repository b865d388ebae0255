"""Phase use-cases: create, edit, prepare again (each ending in a request to the workers),
and a team's quota today.

Each commits through `api.crud.phases` (pending preparation rows first), then asks the
queue to prepare the phase (`handover`, one failure policy: the pending rows are the
record). An edit prepares again only when it changed what the references are trained from.
A refused edit (`competition.errors.Conflict`, or pydantic's `ValidationError` when the
edited experiment fails the registries' checks) leaves the session rolled back, so the
caller may read the phase as stored to show the form again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import crud, schemas
from api.services.handover import send_after_commit
from competition.errors import CrudError
from competition.models import Phase
from competition.queue import EvaluationQueue

__all__ = ["Quota", "create", "edit", "prepare_again", "quota_today"]


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


@dataclass(frozen=True)
class Quota:
    """A team's submissions in a phase on one UTC day, against the phase's daily limit."""

    day: date
    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def quota_today(session: Session, *, phase: Phase, team_id: int, day: date) -> Quota:
    """What `team_id` has spent of `phase`'s quota on `day` (UTC)."""
    used = crud.quota_used(session, team_id=team_id, phase_id=phase.id, day=day)
    return Quota(day=day, used=used, limit=phase.daily_quota)
