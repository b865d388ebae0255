"""Web sessions and pages (review F6 and F15), each exploit through the real app.

Exploits: a cross-site form that signs the victim up into the attacker's team (login CSRF
through sign-up); a cross-site form that logs the victim out; a session stolen before a
password change that still works after it; the pages framed by another site; a forged
`Host` header put into the dry-run command participants copy; and sign-up telling which
e-mail addresses have accounts. Each has a control: the honest request still works.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.crud.accounts import ACCOUNT_REFUSED
from tests.api.factories import PASSWORD
from tests.api.pages.test_pages import form_token, login, page_token

SESSION = "unlearn_session"


def _sign_up(client, *, token: str | None, email: str = "victim@example.org", **headers):  # type: ignore[no-untyped-def]
    data = {
        "email": email,
        "password": "attacker-chosen-pw",
        "display_name": "Victim",
        "team_choice": "join",
        "join_code": "code-Team A",  # the attacker's team
    }
    if token is not None:
        data["csrf_token"] = token
    return client.post("/register", data=data, headers=headers, follow_redirects=False)


def test_cross_site_sign_up_sets_no_session(client, world):
    # The attacker's page auto-submits the form: no cookie of ours, no token (or a guess).
    client.cookies.clear()
    for token in (None, "guess", "1.2.3"):
        forged = _sign_up(client, token=token, Origin="https://evil.example")
        assert forged.status_code == 403, token
        assert SESSION not in forged.headers.get("set-cookie", "")
    # A token the attacker got from his own visit does not match the victim's cookie.
    attackers = form_token(client, "/register")
    client.cookies.clear()
    form_token(client, "/register")
    assert _sign_up(client, token=attackers).status_code == 403
    # Control: the victim's own form signs up and logs in.
    honest = _sign_up(client, token=form_token(client, "/register"))
    assert honest.status_code == 303 and SESSION in honest.headers["set-cookie"]


def test_a_forged_token_signature_is_refused(client, world):
    # Cookie and field equal, well formed, but signed without the server's key.
    forged = "9999999999.nonce." + "0" * 64
    client.cookies.set("unlearn_csrf", forged)
    assert _sign_up(client, token=forged).status_code == 403


def test_cross_site_logout_is_refused_and_keeps_the_session(app, client, world):
    login(client, world.alice.email)
    # The attacker's form: the browser sends no session cookie (SameSite=Lax) and no token.
    with TestClient(app) as other_site:
        forged = other_site.post("/logout", follow_redirects=False)
    assert forged.status_code == 403
    assert SESSION not in forged.headers.get("set-cookie", "")
    # A same-site post without the page's token (e.g. a planted link) is refused too.
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/submissions", follow_redirects=False).status_code == 200
    # Control: the page's own button logs out, and the session is dead on the server too.
    stolen = client.cookies.get(SESSION)
    token = page_token(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert client.get("/submissions", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION, str(stolen))
    assert client.get("/submissions", follow_redirects=False).status_code == 303


def test_password_change_ends_every_other_session(app, client, world):
    login(client, world.alice.email)
    with TestClient(app) as thief:
        login(thief, world.alice.email)  # a session opened with the leaked password
        assert thief.get("/submissions", follow_redirects=False).status_code == 200
        token = page_token(client.get("/account").text, "password-form")
        done = client.post(
            "/account/password",
            data={"current": PASSWORD, "new": "a new password", "repeat": "a new password",
                  "csrf_token": token},
        )  # fmt: skip
        assert 'id="password-changed"' in done.text
        assert thief.get("/submissions", follow_redirects=False).status_code == 303
    # Control: the session that made the change goes on.
    assert client.get("/submissions", follow_redirects=False).status_code == 200


def test_password_change_from_another_site_is_refused(client, world):
    login(client, world.alice.email)
    refused = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "a new password", "repeat": "a new password"},
    )
    assert refused.status_code == 403 and 'id="password-changed"' not in refused.text


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/phases/{phase}", "/submissions"])
def test_pages_forbid_framing_and_foreign_scripts(client, world, path):
    login(client, world.alice.email)
    page = client.get(path.format(phase=world.phase_id))
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # Control: the policy fits the pages: no inline script, handler or style to break.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert not re.search(r"\s(style|on[a-z]+)=", page.text)


def test_api_errors_carry_the_headers_too(client):
    # Not only pages: a JSON answer cannot be framed or sniffed either.
    response = client.get("/api/v1/submissions/999999")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_phase_page_never_echoes_the_host_header(client, world):
    client.app.state.settings.public_url = "https://comp.example"
    forged = client.get(f"/phases/{world.phase_id}", headers={"Host": "evil.example"})
    assert forged.status_code == 200
    assert "evil.example" not in forged.text
    # Control: the page does show the commands a participant copies (the kit's dry-run reads
    # the phase from its phase.json, so no command needs an address at all).
    assert "unlearn dry-run submission.py --phase-file phase.json" in forged.text


def _refusal(client, email: str) -> str:
    response = client.post(
        "/register",
        data={
            "email": email,
            "password": "long enough pw",
            "display_name": "Someone",
            "team_name": "a fresh team",
            "csrf_token": form_token(client, "/register"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 409
    text = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
    return text.replace(email, "EMAIL")  # the form keeps what was typed, as for any error


def test_sign_up_does_not_say_which_addresses_have_accounts(client, world):
    alice, bob = _refusal(client, world.alice.email), _refusal(client, world.bob.email)
    assert alice == bob  # nothing about the account behind the address
    for telling in ("already exists", "taken", "in use"):
        assert telling not in alice
    assert ACCOUNT_REFUSED[0].upper() + ACCOUNT_REFUSED[1:] in alice.replace("&#39;", "'")
    api = client.post(
        "/api/v1/auth/register",
        json={"email": world.alice.email, "password": "long enough pw", "display_name": "x"},
    )
    assert world.alice.email not in api.text and "exists" not in api.text
    # Control: a new address still signs up.
    fresh = client.post(
        "/register",
        data={
            "email": "new@example.org",
            "password": "long enough pw",
            "display_name": "New",
            "csrf_token": form_token(client, "/register"),
        },
        follow_redirects=False,
    )
    assert fresh.status_code == 303
