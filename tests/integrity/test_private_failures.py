"""Hole 6: a private-split failure must not be a channel out of the private split.

The exploit: a submission that, when it runs on the private split, raises an exception (or
writes a status file) whose text carries what it saw there, e.g. the private forget set's
labels, and then reads that text back through the server as a participant: the JSON API,
the submission list, the logs route and the web page. A private-only `too_slow` would leak
run and retrain times the same way. The worker records such failures as
`lifecycle.mark_failed(..., split="private")` (`worker/tasks/execute.py`,
`worker/tasks/score.py`). Controls: the same failure on the public split shows its text,
and organizers always see it.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest

from api import crud
from api.main import create_app
from competition import lifecycle
from competition.models import FailureCategory, Phase, TokenKind, User, utcnow
from harness.errors import SubmissionCrashed
from tests.api.factories import VALID_SOURCE
from tests.integrity.test_route_walk import _without_words
from tests.report_factory import scored_report
from tests.worker.factories import Pipeline, configure
from tests.worker.pipeline_fakes import SleepyBackend
from worker import context
from worker.tasks.dispatch import start_evaluation
from worker.tasks.score import too_slow_message

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 at import time
    from fastapi.testclient import TestClient

LEAK = "forget-labels:3,1,4,1,5,9,2,6"
SLOW_REPORT = scored_report(0.5, run_seconds=12.345, retrain_seconds=67.891, max_fraction=0.1)


def _failed_submission(client, world, session, *, split: str, category, message: str) -> int:
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    submission_id = int(response.json()["id"])
    lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=submission_id, attempt=1, passed=True)
    lifecycle.mark_failed(
        session,
        submission_id=submission_id,
        attempt=1,
        category=category,
        message=message,
        system_error=False,
        split=split,
    )
    return submission_id


def _what_a_member_reads(client, member, submission_id: int) -> str:
    urls = [
        f"/api/v1/submissions/{submission_id}",
        "/api/v1/submissions",
        f"/api/v1/submissions/{submission_id}/events",
        f"/api/v1/submissions/{submission_id}/logs",
        f"/submissions/{submission_id}",
        "/submissions",
    ]
    texts = []
    for url in urls:
        response = client.get(url, headers=member.headers)
        assert response.status_code == 200, (url, response.status_code)
        texts.append(response.text)
    return "\n".join(texts)


CASES = [
    pytest.param(FailureCategory.EXCEPTION, f"RuntimeError: {LEAK}", [LEAK], id="exception"),
    pytest.param(FailureCategory.INVALID_OUTPUT, f"status file: {LEAK}", [LEAK], id="status-file"),
    pytest.param(
        FailureCategory.TOO_SLOW,
        too_slow_message(SLOW_REPORT),
        ["12.35", "67.89", "18.2%"],  # median run, one retraining, the fraction
        id="too-slow",
    ),
]


@pytest.mark.parametrize(("category", "message", "secrets"), CASES)
def test_private_split_failure_shows_participants_one_outcome_then_its_category_at_the_end(
    client, world, session, category, message, secrets
):
    submission_id = _failed_submission(
        client, world, session, split="private", category=category, message=message
    )
    seen = _what_a_member_reads(client, world.alice, submission_id)
    for secret in secrets:
        assert secret not in seen
    # Before the end: one outcome, whatever the category (the pages' dictionary of words,
    # the same on every page, names every category: it is stripped first).
    assert category.value not in _without_words(seen)
    body = client.get(f"/api/v1/submissions/{submission_id}", headers=world.alice.headers).json()
    assert body["failure_category"] is None
    assert "private evaluation did not complete" in body["failure_message"]
    logs = client.get(f"/api/v1/submissions/{submission_id}/logs", headers=world.alice.headers)
    assert logs.json()["shown"] is False
    # Control: organizers read the full text.
    assert all(s in _what_a_member_reads(client, world.organizer, submission_id) for s in secrets)
    # After the end: the category, never the text.
    phase = crud.get_phase(session, world.phase_id)
    phase.starts_at = utcnow() - timedelta(days=2)
    phase.ends_at = utcnow() - timedelta(seconds=1)
    session.commit()
    after = client.get(f"/api/v1/submissions/{submission_id}", headers=world.alice.headers).json()
    assert after["failure_category"] == category.value
    assert all(
        secret not in _what_a_member_reads(client, world.alice, submission_id) for secret in secrets
    )


@pytest.mark.parametrize(("category", "message", "secrets"), CASES)
def test_public_split_failure_text_reaches_the_team(
    client, world, session, category, message, secrets
):
    # Control: the same failure on the public split is shown, so the test above can fail.
    submission_id = _failed_submission(
        client, world, session, split="public", category=category, message=message
    )
    seen = _what_a_member_reads(client, world.alice, submission_id)
    assert all(secret in seen for secret in secrets)


class LeakingBackend(SleepyBackend):
    """A submission that crashes on the private split with what it saw there."""

    def run_shard(self, *, split: str, **kwargs):  # type: ignore[no-untyped-def, override]
        if split == "private":
            raise SubmissionCrashed(f"RuntimeError: {LEAK}")
        return super().run_shard(split=split, **kwargs)


def test_worker_marks_a_private_split_crash_so_the_server_hides_its_text(tmp_path, monkeypatch):
    # Through the real pipeline (Celery eager, the fake backend above) and then the API.
    configure(
        monkeypatch,
        tmp_path,
        evaluation_backend="tests.integrity.test_private_failures:LeakingBackend",
    )
    ctx = context.get_context()
    from worker.celery_app import app as celery_app
    from worker.celery_app import celery_config

    celery_app.conf.update(celery_config(ctx.settings))
    celery_app._local.__dict__.pop("backend", None)
    celery_app.loader.import_default_modules()
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        pipeline = Pipeline(data_dir=tmp_path, sessions=ctx.sessions, store=ctx.store)
        submission_id = pipeline.submit(pipeline.phase(replicas=4))
        start_evaluation.delay(submission_id=submission_id)
        failed = pipeline.submission(submission_id)
        assert (failed.failure_split, failed.failure_category) == ("private", "exception")
        assert LEAK in failed.failure_message  # stored for organizers
        with ctx.sessions() as session:
            user = session.get(User, failed.user_id)
            token, _ = crud.create_token(
                session, user=user, kind=TokenKind.API, ttl=timedelta(hours=1)
            )
        server = create_app(ctx.settings.model_copy(update={"run_migrations_on_start": False}))
        with TestClient(server) as client:
            seen = client.get(
                f"/api/v1/submissions/{submission_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert seen.status_code == 200
            # The public result was stored before the private split ran: the team sees the
            # submission finished, and nothing of the private failure, until the end.
            assert LEAK not in seen.text
            assert seen.json()["status"] == "finished"
            assert seen.json()["failure_category"] is None
            with ctx.sessions() as session:
                phase = session.get(Phase, failed.phase_id)
                phase.starts_at = utcnow() - timedelta(days=2)
                phase.ends_at = utcnow() - timedelta(seconds=1)
                session.commit()
            after = client.get(
                f"/api/v1/submissions/{submission_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert LEAK not in after.text
        assert (after.json()["status"], after.json()["failure_category"]) == ("failed", "exception")
        server.state.engine.dispose()
    finally:
        celery_app.conf.update(task_always_eager=False, task_eager_propagates=False)
        context.reset()
