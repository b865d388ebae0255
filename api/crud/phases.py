"""Phases: create, edit, list (loading one is `competition.records.get_phase`).

A new phase gets its leaderboard seeds from `competition.models.PhaseSecrets` (made on
flush, stored apart), a published `dev_seed` for the development split when the organizer
gave none, and pending preparation rows (`competition.preparation`): the caller then asks
the queue to prepare it. The experiment is stored as one `PhaseConfig` (`Phase.config`),
built from the body's flat fields by `PhaseCreate`. An edit of the experiment is allowed
only while no submission was scored under it, is checked against the registries like a new
phase, and when it changes what the references are trained from, puts the preparation back
to pending.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import schemas
from competition import preparation
from competition.errors import Conflict
from competition.models import FailureCategory, Phase, PhaseSecrets, QuotaCounter, Submission
from harness.phase import SplitConfig
from harness.phase_schema import FLAT_FIELDS, flat_fields

__all__ = [
    "archive_phase",
    "create_phase",
    "delete_phase",
    "list_phases",
    "phase_readiness",
    "phase_secrets",
    "prepare_again",
    "submission_count",
    "update_phase",
]


def create_phase(session: Session, data: schemas.PhaseCreate) -> Phase:
    config = data.config
    if "dev_seed" not in data.split_spec:
        config = config.with_(split={**config.split.model_dump(), "dev_seed": _dev_seed()})
    phase = Phase(**data.model_dump(exclude=set(FLAT_FIELDS)), experiment=config)
    phase.hidden_seeds = PhaseSecrets.generate()
    session.add(phase)
    try:
        session.flush()  # the id the preparation rows name
        preparation.reset(session, phase.id)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a phase named {data.name!r} already exists") from None
    return phase


def _dev_seed() -> int:
    """A published development seed, apart from the placeholder leaderboard seeds that a
    stored experiment is read back with (the model refuses equal seeds)."""
    placeholders = {SplitConfig().public_seed, SplitConfig().private_seed}
    while (seed := secrets.randbelow(2**31)) in placeholders:
        pass
    return seed


def update_phase(session: Session, phase: Phase, data: schemas.PhaseUpdate) -> bool:
    """Apply the edit; True when the phase must be prepared again (the caller asks the queue).

    Raises `Conflict` for an experiment edit of a phase with submissions, and pydantic's
    `ValidationError` when the edited experiment fails the registries' checks.
    """
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    experiment = {k: v for k, v in changes.items() if k in schemas.EXPERIMENT_FIELDS}
    retrain = False
    if experiment:
        before = flat_fields(phase.config)
        if "split_spec" in experiment:  # keep the published development seed
            dev_seed = before["split_spec"]["dev_seed"]
            experiment["split_spec"] = {"dev_seed": dev_seed, **experiment["split_spec"]}
            changes["split_spec"] = experiment["split_spec"]
        count = submission_count(session, phase, scored_only=True)
        if count and any(before[k] != v for k, v in experiment.items()):
            raise Conflict(
                f"phase {phase.name!r} has {count} submissions scored under its current "
                f"settings; {', '.join(sorted(experiment))} cannot change now (archive it and "
                "create a new phase)"
            )
        current = schemas.PhasePublic.model_validate(phase).model_dump()
        edited = schemas.PhaseCreate.model_validate({**current, **changes})  # or raises
        after = flat_fields(edited.config)  # both the short way: equal settings compare equal
        retrain = any(after[k] != before[k] for k in schemas.TRAINING_FIELDS)
        phase.config = edited.config
    for key, value in changes.items():
        if key not in schemas.EXPERIMENT_FIELDS:
            setattr(phase, key, value)
    if phase.ends_at <= phase.starts_at:
        session.rollback()
        raise Conflict("ends_at must be after starts_at")
    if retrain:
        preparation.reset(session, phase.id)
    session.commit()
    return retrain


def prepare_again(session: Session, phase: Phase) -> None:
    """Both splits back to pending (after the cause of a failure was fixed); the caller
    asks the queue to prepare it."""
    preparation.reset(session, phase.id)
    session.commit()


def phase_readiness(session: Session, phase: Phase) -> preparation.Readiness:
    return preparation.readiness(session, phase.id)


def list_phases(
    session: Session, *, limit: int, offset: int, include_archived: bool = True
) -> tuple[list[Phase], int]:
    query = select(Phase) if include_archived else select(Phase).where(Phase.archived.is_(False))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Phase.starts_at, Phase.id).limit(limit).offset(offset))
    return list(rows), total


def phase_secrets(session: Session, phase: Phase) -> PhaseSecrets:
    """The phase's leaderboard seeds (organizers only: the route checks the role)."""
    if phase.hidden_seeds is None:  # made on flush for every phase; absent only by hand
        raise Conflict(f"phase {phase.id} has no leaderboard seeds; run the migrations")
    return phase.hidden_seeds


def submission_count(session: Session, phase: Phase, *, scored_only: bool = False) -> int:
    """The phase's submissions; `scored_only` leaves out those failed because the phase
    could not be prepared (never run, so an edit that fixes the phase wrongs nobody)."""
    query = select(func.count()).select_from(Submission).where(Submission.phase_id == phase.id)
    if scored_only:
        query = query.where(
            Submission.failure_category.is_distinct_from(FailureCategory.PHASE_UNAVAILABLE)
        )
    return session.scalar(query) or 0


def delete_phase(session: Session, phase: Phase) -> None:
    """Remove a phase that nobody submitted to (a mistake); others can only be archived."""
    count = submission_count(session, phase)
    if count:
        raise Conflict(
            f"phase {phase.name!r} has {count} submissions; archive it instead of deleting it"
        )
    session.query(QuotaCounter).filter(QuotaCounter.phase_id == phase.id).delete()
    session.delete(phase)
    session.commit()


def archive_phase(session: Session, phase: Phase, *, archived: bool = True) -> Phase:
    """Hide the phase from the public list and close it to uploads, keeping its submissions."""
    phase.archived = archived
    session.commit()
    return phase
