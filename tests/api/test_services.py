"""The use-cases (`api.services`) as both front ends reach them.

One enqueue-failure policy: a queue that cannot send (a broker restarting) costs neither an
upload nor a phase, over JSON or a page, and the loss is logged for the reconciler. One
visibility rule: another team's submission is refused exactly as an absent one.
"""

from __future__ import annotations

import logging

import pytest

from api import crud, services
from api.main import create_app
from competition.models import Phase, Submission, SubmissionStatus, User
from competition.pipeline_models import PreparationState
from tests.api.factories import VALID_SOURCE, build_world, phase_body
from tests.api.pages.test_pages import login


class UnreachableQueue:
    """An `EvaluationQueue` whose every send fails, as a client of a broker that is down."""

    def __init__(self) -> None:
        self.tries: list[int] = []

    def enqueue(self, submission_id: int) -> None:
        self.tries.append(submission_id)
        raise ConnectionError("broker unreachable")

    def prepare_phase(self, phase_id: int) -> None:
        self.tries.append(phase_id)
        raise ConnectionError("broker unreachable")


@pytest.fixture
def down(settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    queue = UnreachableQueue()
    application = create_app(settings, queue=queue)
    with TestClient(application) as client:
        yield client, queue, build_world(application)
    application.state.engine.dispose()


def test_submit_keeps_the_upload_when_the_queue_fails_over_json_and_pages(down, caplog):  # type: ignore[no-untyped-def]
    client, queue, world = down
    caplog.set_level(logging.ERROR, logger="api.services.handover")
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    login(client, world.bob.email)
    page = client.post(
        f"/phases/{world.phase_id}/submit",
        files={"file": ("submission.py", VALID_SOURCE)},
        follow_redirects=False,
    )
    assert page.status_code == 303, page.text
    with client.app.state.sessionmaker() as session:
        rows = session.query(Submission).order_by(Submission.id).all()
        assert [r.status for r in rows] == [SubmissionStatus.QUEUED] * 2
    assert queue.tries == [r.id for r in rows]  # both were tried, both losses logged
    assert sum("reconciler will retry" in r.getMessage() for r in caplog.records) == 2


def test_phase_create_edit_and_prepare_keep_the_phase_when_the_queue_fails(down):  # type: ignore[no-untyped-def]
    client, queue, world = down
    organizer = world.organizer.headers
    created = client.post("/api/v1/phases", json=phase_body(name="later"), headers=organizer)
    assert created.status_code == 201, created.text
    phase_id = created.json()["id"]
    edited = client.patch(f"/api/v1/phases/{phase_id}", json={"replicas": 4}, headers=organizer)
    assert edited.status_code == 200, edited.text
    again = client.post(f"/api/v1/phases/{phase_id}/prepare", headers=organizer)
    assert again.status_code == 202, again.text
    assert again.json()["state"] == PreparationState.PENDING.value
    assert queue.tries == [phase_id] * 3
    with client.app.state.sessionmaker() as session:
        assert session.get(Phase, phase_id).config.replicas == 4  # type: ignore[union-attr]


def test_visible_submission_refuses_another_team_as_if_absent(client, world, session):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    submission_id = response.json()["id"]
    bob, carol = session.get(User, world.bob.user_id), session.get(User, world.carol.user_id)
    # Control: the team mate sees it, so the refusals below are the rule, not a lookup miss.
    seen = services.submissions.visible_submission(session, viewer=bob, submission_id=submission_id)
    assert seen.id == submission_id
    with pytest.raises(crud.NotFound) as other_team:
        services.submissions.visible_submission(session, viewer=carol, submission_id=submission_id)
    with pytest.raises(crud.NotFound) as absent:
        services.submissions.visible_submission(session, viewer=carol, submission_id=999)
    assert str(other_team.value).replace(str(submission_id), "N") == str(absent.value).replace(
        "999", "N"
    )
    other = client.get(f"/api/v1/submissions/{submission_id}", headers=world.carol.headers)
    missing = client.get("/api/v1/submissions/999", headers=world.carol.headers)
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
