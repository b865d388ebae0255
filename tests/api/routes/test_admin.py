"""Organizer dashboard data through HTTP, and organizer account creation."""

from __future__ import annotations

from api import crud
from tests.api.factories import VALID_SOURCE


def test_overview_counts_states_failures_and_workers(client, world, session):
    ids = [
        client.post(
            f"/api/v1/phases/{world.phase_id}/submissions",
            headers=world.alice.headers,
            files={"file": ("submission.py", VALID_SOURCE)},
        ).json()["id"]
        for _ in range(3)
    ]
    crud.start_sanity_check(session, submission_id=ids[0], worker="gpu-1")
    crud.mark_failed(
        session, submission_id=ids[1], category="timeout", message="t", system_error=False
    )
    url = "/api/v1/admin/overview"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=world.alice.headers).status_code == 403
    body = client.get(url, headers=world.organizer.headers).json()
    counts = {s["status"]: s["count"] for s in body["statuses"]}
    assert (counts["queued"], counts["sanity_check"], counts["failed"], counts["finished"]) == (
        1,
        1,
        1,
        0,
    )
    assert body["failures"] == [{"category": "timeout", "count": 1}]
    assert [w["hostname"] for w in body["workers"]] == ["gpu-1"]


def test_organizers_create_organizers(client, world):
    body = {"email": "org2@example.org", "password": "long enough", "display_name": "Org 2"}
    assert (
        client.post("/api/v1/admin/organizers", json=body, headers=world.alice.headers).status_code
        == 403
    )
    created = client.post("/api/v1/admin/organizers", json=body, headers=world.organizer.headers)
    assert created.status_code == 201 and created.json()["role"] == "organizer"
