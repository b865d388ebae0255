"""Phases through HTTP: anyone reads, organizers create and change, teams read their quota."""

from __future__ import annotations

from tests.api.factories import VALID_SOURCE, phase_body


def test_phases_are_listed_to_anonymous_visitors(client, world):
    body = client.get("/api/v1/phases").json()
    assert body["count"] == 1
    phase = body["data"][0]
    assert (phase["name"], phase["replicas"], phase["estimator"]) == ("dev", 8, "neurips2023")
    assert client.get(f"/api/v1/phases/{world.phase_id}").json()["split_spec"] == {
        "forget_fraction": 0.02
    }
    assert client.get("/api/v1/phases/99").status_code == 404


def test_create_phase_is_organizer_only(client, world):
    body = phase_body(name="final", replicas=64, efficiency_gate=0.2, show_logs=False)
    assert client.post("/api/v1/phases", json=body).status_code == 401
    assert client.post("/api/v1/phases", json=body, headers=world.alice.headers).status_code == 403
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201
    assert created.json()["show_logs"] is False
    again = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert again.status_code == 409


def test_create_phase_rejects_inverted_times(client, world):
    body = phase_body(name="bad", starts_at="2030-01-02T00:00:00Z", ends_at="2030-01-01T00:00:00Z")
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422
    assert "ends_at" in response.text


def test_update_phase(client, world):
    url = f"/api/v1/phases/{world.phase_id}"
    assert (
        client.patch(url, json={"daily_quota": 1}, headers=world.carol.headers).status_code == 403
    )
    updated = client.patch(
        url, json={"daily_quota": 1, "show_logs": False}, headers=world.organizer.headers
    )
    assert (updated.json()["daily_quota"], updated.json()["show_logs"]) == (1, False)
    inverted = client.patch(
        url, json={"ends_at": "2000-01-01T00:00:00Z"}, headers=world.organizer.headers
    )
    assert inverted.status_code == 409


def test_quota_counts_team_submissions(client, world):
    url = f"/api/v1/phases/{world.phase_id}/quota"
    assert client.get(url, headers=world.alice.headers).json()["remaining"] == 3
    client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    quota = client.get(url, headers=world.bob.headers).json()
    assert (quota["used"], quota["remaining"], quota["limit"]) == (1, 2, 3)
    assert client.get(url, headers=world.carol.headers).json()["used"] == 0
    assert client.get(url).status_code == 401
