"""Every GET route, walked as a team would: nothing of the private split before the end.

The exploit (review F1, F2, F4): a submission fails only on its private split with a marker
in its exception (what it saw there), after private runs it made slow on purpose (a timing
channel), and the team reads everything the server offers. The routes are not listed here:
they are read from the app itself (the OpenAPI schema for the JSON API, the router for the
pages), so a route added next month is walked without anyone editing this test.

Two submissions of one team go through the staged pipeline as the worker drives it
(`worker.leases.stage`: public split run, scored and stored, then the private split): A's
private stage finishes at once and well, B's takes three hours and fails with the marker.
Before the end, a team member's view of every route must
- never contain the marker, B's failure category, or any time from B's private stage;
- be the same for A and B once ids, hashes and the few milliseconds between them are
  normalised (whatever differs would be a private observable);
After the end, the team sees the category and never the marker. Controls: the organizer's
walk finds the marker and the private times (so the walk reaches the data), and a policy
that shows a team everything makes the team's walk fail.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from api import visibility
from competition import lifecycle
from competition.models import Submission, SubmissionEvent, utcnow
from competition.pipeline_models import ShardRun
from tests.api.factories import VALID_SOURCE, report
from worker import leases

MARKER = "PRIVATE-MARKER-7f3a"
PRIVATE_DELAY = timedelta(hours=3)
PRIVATE_SECONDS = PRIVATE_DELAY.total_seconds()
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?")


def _upload(client, member, phase_id: int) -> int:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/phases/{phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _public_stage(session, submission_id: int) -> datetime:  # type: ignore[no-untyped-def]
    """Sanity check, public shards, public result stored: the end of the public stage."""
    ids = {"submission_id": submission_id, "attempt": 1}
    lifecycle.start_sanity_check(session, submission_id=submission_id, worker="host-9:4242")
    lifecycle.record_sanity_check(session, **ids, passed=True)
    plan = [("public", [0, 1, 2, 3]), ("private", [0, 1, 2, 3])]
    leases.begin_attempt(session, **ids, shards=plan, holder="host-9:4242", lease_s=60)
    leases.finish_shard(session, **ids, shard=0, output_key="public", seconds=4.0)
    lifecycle.start_scoring(session, **ids)
    lifecycle.record_result(session, **ids, split="public", report=report(0.5))
    lifecycle.start_private_stage(session, **ids)
    assert leases.stage(session, **ids) == "private"
    done = session.get(Submission, submission_id)
    session.refresh(done)
    assert done.public_done_at is not None
    return done.public_done_at


def _private_stage(session, submission_id: int, *, fail: bool) -> None:  # type: ignore[no-untyped-def]
    ids = {"submission_id": submission_id, "attempt": 1}
    seconds = PRIVATE_SECONDS if fail else 4.0
    leases.finish_shard(session, **ids, shard=1, output_key="private", seconds=seconds)
    if fail:
        lifecycle.mark_failed(
            session,
            **ids,
            category="exception",
            message=f"RuntimeError: {MARKER}",
            system_error=False,
            split="private",
        )
    else:
        lifecycle.start_scoring(session, **ids)
        lifecycle.record_result(session, **ids, split="private", report=report(0.4))


def _delay_private_stage(session, submission_id: int, public_done: datetime) -> None:  # type: ignore[no-untyped-def]
    """Move every time of the private stage three hours on, as slow private runs would."""
    later = public_done + PRIVATE_DELAY
    session.execute(
        update(SubmissionEvent)
        .where(SubmissionEvent.submission_id == submission_id, SubmissionEvent.at > public_done)
        .values(at=later)
    )
    session.execute(
        update(Submission).where(Submission.id == submission_id).values(updated_at=later)
    )
    session.execute(
        update(ShardRun)
        .where(ShardRun.submission_id == submission_id, ShardRun.split == "private")
        .values(updated_at=later)
    )
    session.commit()


def _get_paths(routes: list[Any], prefix: str = "") -> set[str]:
    """GET paths of `routes`, into included routers (FastAPI keeps an included router as
    one entry with its prefix, not as its routes)."""
    paths = set()
    for route in routes:
        include = getattr(route, "include_context", None)
        if include is not None:
            paths |= _get_paths(include.included_router.routes, prefix + include.prefix)
        elif "GET" in (getattr(route, "methods", None) or set()):
            paths.add(prefix + route.path)
    return paths


def _get_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every GET path of the app: the OpenAPI schema's and the pages' (not in the schema)."""
    paths = {path for path, item in app.openapi()["paths"].items() if "get" in item}
    paths |= _get_paths(list(app.routes))
    return sorted(p for p in paths if not p.startswith(("/static", "/docs", "/redoc")))


def _fill(path: str, values: dict[str, Any]) -> str | None:
    def one(match: re.Match[str]) -> str:
        return str(values.get(match.group(1), 1))

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", one, path)


def _walk(client, app, headers: dict[str, str], values: dict[str, Any]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The text of every GET route, with each path parameter filled from `values`."""
    seen = {}
    for path in _get_routes(app):
        url = _fill(path, values)
        response = client.get(url, headers=headers, follow_redirects=False)
        seen[url] = f"{response.status_code} {response.text}"
    return seen


def _private_times(texts: dict[str, str], public_done: datetime) -> list[str]:
    """Every time shown that falls in B's private stage (the three hours after its public
    result), and any figure of that stage's length."""
    found = []
    public_done = public_done.replace(tzinfo=None)
    for url, text in texts.items():
        for stamp in ISO.findall(text):
            at = datetime.fromisoformat(stamp.replace(" ", "T")).replace(tzinfo=None)
            if public_done + timedelta(minutes=1) < at <= public_done + PRIVATE_DELAY:
                found.append(f"{url}: {stamp}")
        if "10800" in text or "3 h" in text:
            found.append(f"{url}: private run time")
    return found


def _without_words(text: str) -> str:
    """A page without its static dictionary of words (`api/pages/words.py`), the same on
    every page, which names every category."""
    return re.sub(r'<div id="words"[^>]*></div>', "", text)


def _normalised(text: str, a: int, b: int) -> str:
    text = ISO.sub("<time>", text)
    # Milliseconds between the two uploads (a private stage's hours are caught above).
    text = re.sub(r'"elapsed_s":\d+\.\d+', '"elapsed_s":<s>', text)
    text = re.sub(r'id="elapsed">[^<]*<', 'id="elapsed"><s><', text)
    return re.sub(rf"\b{b}\b", str(a), text)


@pytest.fixture
def staged(client, world, session, app):  # type: ignore[no-untyped-def]
    """A (private stage done, fast) and B (private stage failed with the marker, slow)."""
    app.state.settings.metrics_token = "ops-only"  # /metrics is for operations, not teams
    a, b = (
        _upload(client, world.alice, world.phase_id),
        _upload(client, world.alice, world.phase_id),
    )
    _public_stage(session, a)
    done_b = _public_stage(session, b)
    _private_stage(session, a, fail=False)
    _private_stage(session, b, fail=True)
    _delay_private_stage(session, b, done_b)
    return a, b, done_b


def _values(world, sub: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "submission_id": sub,
        "phase_id": world.phase_id,
        "team_id": world.alice.team_id,
        "user_id": world.alice.user_id,
        "name": "epsilons.png",
        "split": "public",
    }


def test_no_private_observable_reaches_the_team_before_the_end(client, world, app, staged):  # type: ignore[no-untyped-def]
    a, b, done_b = staged
    walk_a = _walk(client, app, world.alice.headers, _values(world, a))
    walk_b = _walk(client, app, world.alice.headers, _values(world, b))
    assert len(walk_b) > 30  # the JSON API and the pages, not a handful of listed URLs
    assert {f"/submissions/{b}", f"/phases/{world.phase_id}", "/team"} <= set(walk_b)
    assert walk_b[f"/submissions/{b}"].startswith("200 <!doctype html>")  # read, not redirected
    everything = "\n".join(walk_b.values())
    assert MARKER not in everything
    # The private failure's category (the schema and the pages' dictionary of words list
    # every category: they are no channel).
    dynamic = [_without_words(t) for u, t in walk_b.items() if u != "/openapi.json"]
    assert "exception" not in "\n".join(dynamic)
    assert "host-9" not in everything  # the worker's host is no team's business
    assert _private_times(walk_b, done_b) == []
    # A and B differ only in what their private stages did: the team must not tell them apart.
    for (url_a, text_a), (url_b, text_b) in zip(
        sorted(walk_a.items()), sorted(walk_b.items()), strict=True
    ):
        assert _normalised(text_a, a, b) == _normalised(text_b, a, b), (url_a, url_b)


def test_after_the_end_the_team_sees_the_outcome_but_never_the_text(  # type: ignore[no-untyped-def]
    client, world, app, session, staged
):
    _, b, _ = staged
    phase_end = utcnow() - timedelta(seconds=1)
    from competition.models import Phase

    phase = session.get(Phase, world.phase_id)
    phase.starts_at = phase_end - timedelta(days=2)
    phase.ends_at = phase_end
    session.commit()
    walk_b = _walk(client, app, world.alice.headers, _values(world, b))
    everything = "\n".join(walk_b.values())
    assert MARKER not in everything
    assert "private evaluation did not complete" in everything
    assert '"failure_category":"exception"' in everything


def test_control_the_organizer_walk_finds_the_private_data(client, world, app, staged):  # type: ignore[no-untyped-def]
    _, b, done_b = staged
    walk = _walk(client, app, world.organizer.headers, _values(world, b))
    assert MARKER in "\n".join(walk.values())
    assert _private_times(walk, done_b) != []


def test_control_a_policy_that_shows_everything_fails_the_walk(  # type: ignore[no-untyped-def]
    client, world, app, staged, monkeypatch
):
    _, b, done_b = staged

    def everything(viewer, submission, now):  # type: ignore[no-untyped-def]
        return visibility.Sight(
            submission=submission, organizer=True, private_open=True, frozen_at=None
        )

    for module in (
        "api.visibility",
        "api.services.submissions",
        "api.routes.submissions",
        "api.pages.submissions",
        "api.pages.phase",
    ):
        monkeypatch.setattr(f"{module}.sight", everything, raising=False)
    walk = _walk(client, app, world.alice.headers, _values(world, b))
    assert MARKER in "\n".join(walk.values())
