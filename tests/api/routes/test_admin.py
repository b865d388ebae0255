"""Organizer dashboard data through HTTP, and organizer account creation."""

from __future__ import annotations

from competition import lifecycle
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
    lifecycle.start_sanity_check(session, submission_id=ids[0], worker="gpu-1")
    lifecycle.mark_failed(
        session,
        submission_id=ids[1],
        attempt=1,
        category="timeout",
        message="t",
        system_error=False,
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


def test_organizers_list_users_by_team(client, world):
    url = "/api/v1/admin/users"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=world.alice.headers).status_code == 403
    everyone = client.get(url, headers=world.organizer.headers).json()
    assert everyone["count"] == 4
    team_b = world.carol.team_id
    members = client.get(url, params={"team_id": team_b}, headers=world.organizer.headers).json()
    assert [(u["email"], u["team_id"]) for u in members["data"]] == [("carol@example.org", team_b)]


def test_organizer_moves_a_participant_who_has_submitted(client, world):
    submitted = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()
    url = f"/api/v1/admin/users/{world.alice.user_id}/team"
    to_b = {"team_id": world.carol.team_id}
    # Participants cannot move anyone, themselves included, through this route.
    assert client.put(url, json=to_b, headers=world.alice.headers).status_code == 403
    assert client.put(url, json=to_b).status_code == 401

    moved = client.put(url, json=to_b, headers=world.organizer.headers)
    assert moved.status_code == 200 and moved.json()["team_id"] == world.carol.team_id
    mine = client.get("/api/v1/teams/mine", headers=world.alice.headers).json()
    assert mine["name"] == "Team B" and mine["members"] == ["Alice", "Carol"]
    # The submission made for Team A stays Team A's: Bob still sees it, Alice no longer does.
    old_url = f"/api/v1/submissions/{submitted['id']}"
    old = client.get(old_url, headers=world.bob.headers)
    assert old.status_code == 200 and old.json()["team_id"] == world.bob.team_id
    assert client.get(old_url, headers=world.alice.headers).status_code == 404


def test_moving_refuses_organizers_and_unknown_ids(client, world):
    headers = world.organizer.headers
    to_a = {"team_id": world.alice.team_id}
    url = f"/api/v1/admin/users/{world.organizer.user_id}/team"
    refused = client.put(url, json=to_a, headers=headers)
    assert refused.status_code == 409
    assert "organizers do not belong to teams" in refused.json()["error"]["message"]
    missing = client.put("/api/v1/admin/users/9999/team", json=to_a, headers=headers)
    assert missing.status_code == 404
    unknown = client.put(
        f"/api/v1/admin/users/{world.carol.user_id}/team", json={"team_id": 9999}, headers=headers
    )
    assert unknown.status_code == 404 and "no team 9999" in unknown.json()["error"]["message"]
