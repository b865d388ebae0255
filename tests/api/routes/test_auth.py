"""Accounts through HTTP: register, login, tokens (stored hashed), logout, rate limit."""

from __future__ import annotations

import hashlib

import pytest

from competition.models import ApiToken
from tests.api.factories import PASSWORD


def test_register_creates_participant_in_own_team(client):
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "Dana@Example.org",
            "password": "long enough",
            "display_name": "Dana",
            "team_name": "Dana's team",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["email"], body["role"]) == ("dana@example.org", "participant")
    assert body["team_id"] is not None
    duplicate = client.post(
        "/api/v1/auth/register",
        json={"email": "dana@example.org", "password": "long enough", "display_name": "D2"},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"


def test_register_with_join_code_joins_team(client, world):
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "eve@example.org",
            "password": "long enough",
            "display_name": "Eve",
            "join_code": "code-Team A",
        },
    )
    assert response.json()["team_id"] == world.alice.team_id
    bad = client.post(
        "/api/v1/auth/register",
        json={
            "email": "fay@example.org",
            "password": "long enough",
            "display_name": "Fay",
            "join_code": "nope",
        },
    )
    assert bad.status_code == 404


def test_register_refuses_short_password_with_field_in_error(client):
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.org", "password": "short", "display_name": "X"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.password"


def test_login_returns_token_stored_only_as_hash(client, world, session):
    response = client.post(
        "/api/v1/auth/login", json={"email": world.alice.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == world.alice.email
    hashes = {t.token_hash for t in session.query(ApiToken).all()}
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert all(token not in h for h in hashes)


def test_login_wrong_password_and_unknown_user_look_the_same(client, world):
    wrong = client.post("/api/v1/auth/login", json={"email": world.alice.email, "password": "nope"})
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "who@example.org", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_me_requires_valid_token(client):
    assert client.get("/api/v1/users/me").status_code == 401
    bad = client.get("/api/v1/users/me", headers={"Authorization": "Bearer ul_forged"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "not_authenticated"


def test_tokens_create_list_revoke(client, world):
    created = client.post("/api/v1/tokens", json={"name": "ci"}, headers=world.alice.headers)
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    listed = client.get("/api/v1/tokens", headers=world.alice.headers).json()
    assert "ci" in [t["name"] for t in listed]
    assert all("token" not in t for t in listed)
    other = client.delete(f"/api/v1/tokens/{token_id}", headers=world.carol.headers)
    assert other.status_code == 404
    assert (
        client.delete(f"/api/v1/tokens/{token_id}", headers=world.alice.headers).status_code == 200
    )
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_logout_revokes_the_token_used(client, world):
    assert client.post("/api/v1/auth/logout", headers=world.bob.headers).status_code == 200
    assert client.get("/api/v1/users/me", headers=world.bob.headers).status_code == 401


@pytest.fixture
def limited_app(settings, queue):
    from api.main import create_app

    limited = settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "login_rate_limit": "3/minute",
            "upload_rate_limit": "2/minute",
        }
    )
    application = create_app(limited, queue=queue)
    yield application
    application.state.engine.dispose()


def test_login_and_upload_are_rate_limited(limited_app, world):
    from tests.api.conftest import TestClient
    from tests.api.factories import VALID_SOURCE

    with TestClient(limited_app) as client:
        codes = [
            client.post(
                "/api/v1/auth/login", json={"email": world.alice.email, "password": "x"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        limited = client.post(
            "/api/v1/auth/login", json={"email": world.alice.email, "password": "x"}
        )
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        uploads = [
            client.post(
                f"/api/v1/phases/{world.phase_id}/submissions",
                headers=world.alice.headers,
                files={"file": ("submission.py", VALID_SOURCE)},
            ).status_code
            for _ in range(3)
        ]
        assert uploads == [201, 201, 429]
