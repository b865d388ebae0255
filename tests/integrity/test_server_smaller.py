"""Hole 8, server side, and the rate limits of issue 13 and review F12.

Exploits, each through the real app: a login link whose `next` leads to another site
(`/\\evil.example`, which browsers read as `//evil.example`); a login form posted from
another site with the attacker's credentials (login CSRF: the victim ends up in the
attacker's account); a team name that a spreadsheet runs as a formula when an organizer
opens the CSV export; four server processes each allowing the full login limit; a flood
of logins or uploads over the limit whose bodies were all read first, and one account's
uploads throttling everyone behind the same address (review F12). Each has a control
showing the same path working for an honest request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.ratelimit import RateLimiter
from competition.models import Team
from tests.api.factories import PASSWORD, VALID_SOURCE, add_user, finish

EVIL_NEXTS = ["/\\evil.example", "/\\/evil.example/", "//evil.example", "/\t/evil.example"]


def _form_token(client) -> str:
    assert client.get("/login").status_code == 200
    return str(client.cookies.get("unlearn_csrf"))  # the form's field holds the same value


def _login(client, email: str, *, next: str = "/", token: str | None = None):  # type: ignore[no-untyped-def]
    data = {"email": email, "password": PASSWORD, "next": next}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/login", data=data, follow_redirects=False)


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_login_never_redirects_to_another_site(client, world, target):
    response = _login(client, world.alice.email, next=target, token=_form_token(client))
    assert response.status_code == 303 and response.headers["location"] == "/"
    form = client.get("/login", params={"next": target})
    assert "evil.example" not in form.text


def test_login_redirect_to_a_local_page_is_kept(client, world):
    # Control: a path on this site survives the check.
    response = _login(client, world.alice.email, next="/submissions", token=_form_token(client))
    assert response.headers["location"] == "/submissions"


def test_login_posted_from_another_site_is_refused(client, world):
    # The attacker's page posts its own credentials: no token from our form, no cookie.
    client.cookies.clear()
    forged = client.post(
        "/login",
        data={"email": world.carol.email, "password": PASSWORD, "csrf_token": "guess"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "unlearn_session" not in forged.headers.get("set-cookie", "")
    # A token taken from the attacker's own visit does not match the victim's cookie.
    attacker_token = _form_token(client)
    client.cookies.clear()
    victims_token = _form_token(client)
    assert attacker_token != victims_token
    replayed = _login(client, world.carol.email, token=attacker_token)
    assert replayed.status_code == 403
    # Control: the form the victim loads from this site logs in (each refusal above sent a
    # new form, so the victim's earlier token has been replaced).
    assert _login(client, world.carol.email, token=_form_token(client)).status_code == 303


FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_export_cells_never_run_as_formulas(client, app, world, session):
    teams = []
    for index, name in enumerate(FORMULAS):
        team = Team(name=name, join_code=f"evil-{index}")
        session.add(team)
        session.commit()
        member = add_user(session, email=f"evil{index}@example.org", team=team)
        response = client.post(
            f"/api/v1/phases/{world.phase_id}/submissions",
            files={"file": ("submission.py", VALID_SOURCE)},
            headers=member.headers,
        )
        assert response.status_code == 201, response.text
        finish(session, int(response.json()["id"]), public=0.1 + index / 100, private=0.1)
        teams.append(name)
    honest = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=world.alice.headers,
    )
    finish(session, int(honest.json()["id"]), public=0.9, private=0.9)
    export = client.get(f"/api/v1/phases/{world.phase_id}/leaderboard/export?format=csv")
    rows = list(csv.DictReader(io.StringIO(export.text, newline="")))
    names = {row["team_name"] for row in rows}
    for name in teams:
        assert "'" + name in names
    assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)
    # Control: an ordinary name and the numbers are written as they are.
    assert "Team A" in names and rows[0]["score"] == "0.9"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    from tests.worker.services import RedisServer

    server = RedisServer(tmp_path / "redis")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield server.url
    server.stop()


def _hits_allowed(limiters: list[RateLimiter], hits: int) -> int:
    allowed = 0
    for index in range(hits):
        try:
            limiters[index % len(limiters)].check("login", "203.0.113.7")
            allowed += 1
        except Exception:  # noqa: BLE001 - the 429 APIError
            pass
    return allowed


@pytest.mark.redis
def test_rate_limit_is_shared_by_server_processes_through_redis(redis_url):
    # Four `serve --workers 4` processes, each with its own limiter, one Redis.
    shared = [
        RateLimiter(enabled=True, limits_by_scope={"login": "3/minute"}, storage_url=redis_url)
        for _ in range(4)
    ]
    assert {limiter.storage_kind for limiter in shared} == {"RedisStorage"}
    assert _hits_allowed(shared, 12) == 3
    # Control: in-process counters (the embedded default) allow the limit once per process.
    separate = [RateLimiter(enabled=True, limits_by_scope={"login": "3/minute"}) for _ in range(4)]
    assert {limiter.storage_kind for limiter in separate} == {"MemoryStorage"}
    assert _hits_allowed(separate, 12) == 12


@pytest.mark.redis
def test_app_uses_redis_counters_when_a_redis_url_is_configured(settings, redis_url):
    from api.main import create_app

    configured = settings.model_copy(update={"rate_limit_storage_url": redis_url})
    assert create_app(configured).state.rate_limiter.storage_kind == "RedisStorage"
    assert create_app(settings).state.rate_limiter.storage_kind == "MemoryStorage"


@pytest.fixture
def limited_app(settings, queue):  # type: ignore[no-untyped-def]
    from api.main import create_app

    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "login_rate_limit": "2/minute",
                "upload_rate_limit": "2/minute"}
    )  # fmt: skip
    application = create_app(limited, queue=queue)
    yield application
    application.state.engine.dispose()


def _asgi_post(app, path: str, *, address: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """POST `path` from `address` straight through ASGI; (status, whether the body was read)."""
    import asyncio

    read: list[bool] = []
    sent: list[dict] = []

    async def receive() -> dict:
        read.append(True)
        return {"type": "http.request", "body": b"email=a&password=b", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    raw = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "server": ("testserver", 80), "client": (address, 40000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw.items()],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], bool(read)


def test_login_flood_is_refused_before_its_body_is_read(limited_app):
    # The exploit (review F12): every request over the limit still had its body buffered.
    first = [_asgi_post(limited_app, "/register", address="203.0.113.7") for _ in range(2)]
    assert all(was_read for _, was_read in first)  # control: within the limit, read
    status, was_read = _asgi_post(limited_app, "/login", address="203.0.113.7")
    assert (status, was_read) == (429, False)
    # Control: the limit is per address; another client still gets in.
    assert _asgi_post(limited_app, "/login", address="198.51.100.1")[1]


def test_upload_limit_counts_per_account_not_per_address(limited_app, world):
    url = f"/api/v1/phases/{world.phase_id}/submissions"
    for _ in range(2):
        assert _asgi_post(limited_app, url, address="203.0.113.7", headers=world.alice.headers)[1]
    # Over Alice's limit: refused unread, from her address and from any other.
    for address in ("203.0.113.7", "198.51.100.1"):
        status, was_read = _asgi_post(
            limited_app, url, address=address, headers=world.alice.headers
        )
        assert (status, was_read) == (429, False), address
    # Control: Bob behind the same address (a shared proxy) is not throttled by her.
    assert _asgi_post(limited_app, url, address="203.0.113.7", headers=world.bob.headers)[1]
