"""The submission state machine: legal moves are recorded with a time, illegal ones refused."""

from __future__ import annotations

import pytest

from competition.models import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    IllegalTransition,
    SubmissionEvent,
    SubmissionStatus,
    transition,
)
from tests.api.factories import VALID_SOURCE

S = SubmissionStatus


def test_transition_table_covers_every_status_and_terminals_only_reopen_by_rescore():
    assert set(TRANSITIONS) == set(SubmissionStatus)
    assert TRANSITIONS[S.CANCELLED] == frozenset()
    for status in TERMINAL_STATUSES - {S.CANCELLED}:
        assert TRANSITIONS[status] == {S.QUEUED}


def _queued_submission(client, world):
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    return response.json()["id"]


def test_transition_records_event_with_time(client, world, session):
    from competition.models import Submission

    submission = session.get(Submission, _queued_submission(client, world))
    before = submission.updated_at
    event = transition(session, submission, S.SANITY_CHECK, note="worker w1")
    session.commit()
    assert (event.from_status, event.to_status, event.note) == (
        S.QUEUED,
        S.SANITY_CHECK,
        "worker w1",
    )
    assert event.at >= before and event.at.tzinfo is not None
    stored = session.query(SubmissionEvent).filter_by(submission_id=submission.id).count()
    assert stored == 4  # received, validated, queued, sanity_check


@pytest.mark.parametrize("target", [S.FINISHED, S.SCORING, S.RECEIVED, S.VALIDATED])
def test_transition_refuses_illegal_moves(client, world, session, target):
    from competition.models import Submission

    submission = session.get(Submission, _queued_submission(client, world))
    with pytest.raises(IllegalTransition, match="cannot go from queued"):
        transition(session, submission, target)
    assert submission.status == S.QUEUED


def test_phase_experiment_is_validated_when_written_and_read_back_as_the_model(session, world):
    from competition.models import Phase
    from harness.errors import ConfigError
    from harness.phase import PhaseConfig

    phase = session.get(Phase, world.phase_id)
    stored = dict(phase.experiment)
    with pytest.raises(ConfigError, match="resnet18-small"):
        phase.experiment = {**stored, "model": "resnet999"}
    with pytest.raises(ConfigError, match="replicas"):
        phase.experiment = {**stored, "replicas": 1}
    assert phase.experiment == stored  # a refused write leaves the row as it was
    # Control: a valid one is taken, whole, and read back as the same model.
    phase.config = phase.config.with_(replicas=16)
    session.commit()
    session.expire_all()
    assert session.get(Phase, world.phase_id).config == PhaseConfig.model_validate(
        {**stored, "replicas": 16}
    )
    assert set(phase.experiment) == set(PhaseConfig.model_fields)
