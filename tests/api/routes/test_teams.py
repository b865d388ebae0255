"""Teams through HTTP: my team with its join code, public list without codes, join, create."""

from __future__ import annotations

from tests.api.factories import VALID_SOURCE


def test_team_list_is_public_without_join_codes(client, world):
    body = client.get("/api/v1/teams").json()
    assert body["count"] == 2
    assert {t["name"] for t in body["data"]} == {"Team A", "Team B"}
    assert all("join_code" not in t for t in body["data"])


def test_my_team_shows_code_and_members(client, world):
    mine = client.get("/api/v1/teams/mine", headers=world.bob.headers).json()
    assert mine["join_code"] == "code-Team A"
    assert mine["members"] == ["Alice", "Bob"]
    assert client.get("/api/v1/teams/mine").status_code == 401
    assert client.get("/api/v1/teams/mine", headers=world.organizer.headers).status_code == 404


def test_join_and_create_team_before_submitting(client, world):
    joined = client.post(
        "/api/v1/teams/join", json={"join_code": "code-Team B"}, headers=world.bob.headers
    )
    assert joined.status_code == 200 and joined.json()["name"] == "Team B"
    created = client.post("/api/v1/teams", json={"name": "Solo"}, headers=world.bob.headers)
    assert created.status_code == 201
    taken = client.post("/api/v1/teams", json={"name": "Team A"}, headers=world.carol.headers)
    assert taken.status_code == 409


def test_team_change_refused_after_submitting(client, world):
    client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    response = client.post(
        "/api/v1/teams/join", json={"join_code": "code-Team B"}, headers=world.alice.headers
    )
    assert response.status_code == 409
    assert "already submitted" in response.json()["error"]["message"]
