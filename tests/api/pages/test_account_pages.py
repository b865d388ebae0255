"""Sign-up, password change and team pages through HTTP, with the rules of crud.accounts."""

from __future__ import annotations

from tests.api.factories import PASSWORD, VALID_SOURCE
from tests.api.pages.test_pages import form_token, login, page_token


def register(client, **fields):
    data = {"email": "dan@example.org", "password": "long enough pw", "display_name": "Dan"}
    data["csrf_token"] = form_token(client, "/register")
    data.update(fields)
    return client.post("/register", data=data, follow_redirects=False)


def change_password(client, **fields):  # type: ignore[no-untyped-def]
    data = {"csrf_token": page_token(client.get("/account").text, "password-form"), **fields}
    return client.post("/account/password", data=data)


def test_register_page_creates_account_team_and_logs_in(client, world):
    response = register(client, team_name="Dans")
    assert response.status_code == 303 and response.headers["location"] == "/team"
    page = client.get("/team")
    assert 'id="team-name">Dans<' in page.text and 'id="team-members">Dan<' in page.text
    assert 'id="join-code"' in page.text


def test_register_page_shows_errors_beside_fields_and_keeps_input(client, world):
    response = register(client, email="not-an-address", password="short")
    assert response.status_code == 422
    assert 'id="email-error"' in response.text and 'id="password-error"' in response.text
    assert 'value="not-an-address"' in response.text and "long enough pw" not in response.text
    taken = register(client, email=world.alice.email)
    assert taken.status_code == 409 and "if you have an account already, log in" in taken.text


def test_register_page_joins_by_code_and_rejects_unknown_code(client, world):
    wrong = register(client, team_choice="join", join_code="nope")
    assert wrong.status_code == 409 and 'id="join_code-error"' in wrong.text
    assert register(client, team_choice="join", join_code="code-Team A").status_code == 303
    assert "Alice, Bob, Dan" in client.get("/team").text


def test_team_page_leave_and_join_until_first_submission(client, world):
    login(client, world.bob.email)
    assert client.post("/team/leave", follow_redirects=False).status_code == 303
    assert 'id="no-team"' in client.get("/team").text
    assert client.post("/team/join", data={"join_code": "code-Team B"}).status_code == 200
    assert "Bob, Carol" in client.get("/team").text
    client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers={"Authorization": f"Bearer {world.bob.token}"},
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    page = client.get("/team")
    assert 'id="team-locked"' in page.text and 'id="leave-team"' not in page.text
    refused = client.post("/team/leave")
    assert refused.status_code == 409 and "ask an organizer to change your team" in refused.text


def test_password_change_needs_the_current_one_and_takes_effect(client, world):
    login(client, world.alice.email)
    wrong = change_password(client, current="bad", new="new password 1", repeat="new password 1")
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    differ = change_password(client, current=PASSWORD, new="new password 1", repeat="x")
    assert differ.status_code == 422 and "differ" in differ.text
    done = change_password(client, current=PASSWORD, new="new password 1", repeat="new password 1")
    assert 'id="password-changed"' in done.text
    old = client.post(
        "/login",
        data={"email": world.alice.email, "password": PASSWORD, "csrf_token": form_token(client)},
    )
    assert old.status_code == 401
    new = client.post(
        "/login",
        data={
            "email": world.alice.email,
            "password": "new password 1",
            "csrf_token": page_token(old.text, "login-form"),  # the 401 page's form
        },
        follow_redirects=False,
    )
    assert new.status_code == 303
