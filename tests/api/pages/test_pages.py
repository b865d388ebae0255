"""Web pages through HTTP (no browser): login cookie, upload form, listings, visibility."""

from __future__ import annotations

import re

from tests.api.factories import PASSWORD, VALID_SOURCE, finish

_TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def page_token(html: str, form_id: str | None = None) -> str:
    """The anti-CSRF token of the form `form_id` (default: the first protected form, the
    header's logout form when logged in)."""
    start = html.index(f'id="{form_id}"') if form_id else 0
    found = _TOKEN_FIELD.search(html, start)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def form_token(client, page: str = "/login") -> str:
    """The anonymous form's anti-CSRF token (the browser's cookie holds the same value)."""
    response = client.get(page)
    assert response.status_code == 200
    return page_token(response.text, page.strip("/") + "-form")


def logout(client):  # type: ignore[no-untyped-def]
    """Press "Log out", with the token the page's form carries."""
    token = page_token(client.get("/").text)
    return client.post("/logout", data={"csrf_token": token}, follow_redirects=False)


def login(client, email: str) -> None:
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "next": "/submissions",
            "csrf_token": form_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/submissions"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_index_lists_phases_for_anonymous(client, world):
    page = client.get("/")
    assert page.status_code == 200
    assert "dev" in page.text and f"/phases/{world.phase_id}/leaderboard" in page.text
    assert f"/phases/{world.phase_id}/submit" not in page.text


def test_login_page_rejects_wrong_password(client, world):
    response = client.post(
        "/login",
        data={"email": world.alice.email, "password": "nope", "csrf_token": form_token(client)},
    )
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text


def test_login_redirect_refuses_other_sites(client, world):
    response = client.post(
        "/login",
        data={
            "email": world.alice.email,
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": form_token(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_upload_form_shows_line_numbered_errors_then_accepts(client, world):
    login(client, world.alice.email)
    bad = client.post(
        f"/phases/{world.phase_id}/submit",
        files={"file": ("submission.py", b"def unlearning(a, b):\n    pass\n")},
    )
    assert bad.status_code == 422
    assert "submission.py:1" in bad.text
    good = client.post(
        f"/phases/{world.phase_id}/submit",
        files={"file": ("submission.py", VALID_SOURCE)},
        follow_redirects=False,
    )
    assert good.status_code == 303
    detail = client.get(good.headers["location"])
    assert 'id="status">waiting in the queue</span>' in detail.text
    assert "Submitted. Its evaluation starts" in detail.text
    history = detail.text.split('id="events"')[1].split("</ol>")[0]
    assert "Uploaded" in history and "Checked: it defines unlearning()" in history
    assert "→" not in history and "received" not in history and "worker" not in history


def test_submission_pages_hide_other_teams(client, world):
    sub_id = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()["id"]
    login(client, world.carol.email)
    assert client.get(f"/submissions/{sub_id}").status_code == 404
    assert f'data-id="{sub_id}"' not in client.get("/submissions").text
    assert client.get("/admin").status_code == 403


def test_submit_page_shows_the_dry_run_command_of_its_phase(client, world):
    login(client, world.alice.email)
    page = client.get(f"/phases/{world.phase_id}/submit")
    assert page.status_code == 200
    assert "unlearn dry-run submission.py --phase-file phase.json" in page.text
    assert f'href="/phases/{world.phase_id}/starting-kit.zip"' in page.text


def test_pages_redirect_anonymous_to_login(client, world):
    for path in ("/submissions", "/admin", f"/phases/{world.phase_id}/submit", "/submissions/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_admin_dashboard_shows_queue_and_buttons(client, world, session):
    sub_id = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()["id"]
    finish(session, sub_id, public=0.5, private=0.4)
    login(client, world.organizer.email)
    page = client.get("/admin")
    assert page.status_code == 200
    assert f'id="rescore-{sub_id}"' in page.text and f'id="disqualify-{sub_id}"' in page.text
    assert 'data-status="finished"' in page.text


def test_cookie_state_change_from_other_site_is_refused(client, world):
    login(client, world.organizer.email)
    response = client.post("/api/v1/phases", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "cross-site request refused"


def test_logout_ends_the_session(client, world):
    login(client, world.alice.email)
    assert client.get("/submissions", follow_redirects=False).status_code == 200
    assert logout(client).status_code == 303
    assert client.get("/submissions", follow_redirects=False).status_code == 303


def test_wrong_password_keeps_the_email_and_sign_up_keeps_next(client, world):
    wrong = client.post(
        "/login",
        data={
            "email": world.alice.email,
            "password": "nope",
            "next": "/phases/1/submit",
            "csrf_token": form_token(client),
        },
    )
    assert f'value="{world.alice.email}"' in wrong.text
    assert 'href="/register?next=/phases/1/submit"' in wrong.text
    sign_up = client.get("/register?next=/phases/1/submit")
    assert 'name="next" value="/phases/1/submit"' in sign_up.text
    made = client.post(
        "/register",
        data={
            "email": "newcomer@example.org",
            "password": "a long password",
            "display_name": "Newcomer",
            "team_choice": "new",
            "next": "/phases/1/submit",
            "csrf_token": page_token(sign_up.text, "register-form"),
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/phases/1/submit"
    client.cookies.clear()  # a second newcomer, in a fresh browser
    other_site = client.post(
        "/register",
        data={
            "email": "second@example.org",
            "password": "a long password",
            "display_name": "Second",
            "next": "//evil.example/",
            "csrf_token": form_token(client, "/register"),
        },
        follow_redirects=False,
    )
    assert other_site.headers["location"] == "/"
