"""The operator's surface: `/metrics` from the database's truth, and one log event per
committed state change (none for a rolled-back one), as JSON lines."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from competition import lifecycle
from competition.logs import JsonFormatter
from competition.models import Submission, SubmissionStatus
from tests.api.factories import VALID_SOURCE, finish


def _upload(client, world) -> int:
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_states_failures_and_evaluation_times(client, world, session):
    queued, failed, finished = (_upload(client, world) for _ in range(3))
    lifecycle.mark_failed(
        session,
        submission_id=failed,
        attempt=1,
        category="timeout",
        message="t",
        system_error=False,
    )
    finish(session, finished, public=0.5, private=0.4)
    samples = _samples(client)
    assert samples[("unlearn_submissions", (("status", "queued"),))] == 1
    assert samples[("unlearn_submissions", (("status", "failed"),))] == 1
    assert samples[("unlearn_submissions", (("status", "finished"),))] == 1
    assert samples[("unlearn_submissions", (("status", "running"),))] == 0
    assert samples[("unlearn_failures", (("category", "timeout"),))] == 1
    assert samples[("unlearn_evaluation_seconds_count", ())] == 1
    assert samples[("unlearn_evaluation_seconds_bucket", (("le", "+Inf"),))] == 1
    assert 0 <= samples[("unlearn_evaluation_seconds_sum", ())] < 30
    assert queued  # still queued: counted above


def test_state_changes_are_logged_once_committed_with_submission_and_attempt(
    client, world, session, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="unlearn.events")
    submission_id = _upload(client, world)
    lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w1")
    events = [r for r in caplog.records if r.name == "unlearn.events"]
    moves = [(r.submission_id, r.attempt, r.from_status, r.to_status) for r in events]
    assert (submission_id, 1, "queued", "sanity_check") in moves
    assert moves[0] == (submission_id, 1, None, "received")
    assert len(moves) == len(set(moves)), "each state change is logged once"

    caplog.clear()
    submission = session.get(Submission, submission_id)
    from competition.models import transition

    transition(session, submission, SubmissionStatus.RUNNING)
    session.flush()
    session.rollback()  # never committed: never logged
    assert not [r for r in caplog.records if r.name == "unlearn.events"]

    line = JsonFormatter().format(events[-1])
    payload = json.loads(line)
    assert payload["event"] == "submission.state"
    assert payload["submission_id"] == submission_id and payload["attempt"] == 1
    assert payload["level"] == "info" and payload["logger"] == "unlearn.events"


def test_metrics_token_guards_the_endpoint_when_set(client):
    client.app.state.settings.metrics_token = "scrape-secret-0123456789"
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert "unlearn_" not in refused.text and "UNLEARN_METRICS_TOKEN" in refused.text
        allowed = client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789"}
        )
        assert allowed.status_code == 200 and "unlearn_submissions" in allowed.text
    finally:
        client.app.state.settings.metrics_token = ""
    assert client.get("/metrics").status_code == 200  # empty: open, as before
