"""The worker-facing functions of `api.crud`, called directly as the pipeline will call them."""

from __future__ import annotations

import pytest

from api import crud
from competition import lifecycle
from competition.models import FailureCategory, Result, SubmissionStatus, utcnow
from tests.api.factories import VALID_SOURCE, finish, report

S = SubmissionStatus


@pytest.fixture
def queued_id(client, world) -> int:
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    return int(response.json()["id"])


def _to_scoring(session, submission_id: int) -> None:
    lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=submission_id, attempt=1, passed=True)
    lifecycle.start_scoring(session, submission_id=submission_id, attempt=1)


def test_record_result_is_idempotent_and_finishes_after_both_splits(session, queued_id):
    _to_scoring(session, queued_id)
    for _ in range(2):  # a redelivered message stores the same row again, not a second one
        lifecycle.record_result(
            session, submission_id=queued_id, attempt=1, split="public", report=report(0.7)
        )
    assert crud.get_submission(session, queued_id).status == S.SCORING
    lifecycle.record_result(
        session,
        submission_id=queued_id,
        attempt=1,
        split="private",
        report=report(0.6, half_width=0.05),
    )
    lifecycle.record_result(
        session,
        submission_id=queued_id,
        attempt=1,
        split="private",
        report=report(0.6, half_width=0.05),
    )
    submission = crud.get_submission(session, queued_id)
    assert submission.status == S.FINISHED
    assert (submission.private_score, submission.private_ci_low) == (
        pytest.approx(0.6),
        pytest.approx(0.55),
    )
    rows = session.query(Result).filter_by(submission_id=queued_id).all()
    assert sorted((r.split, r.attempt) for r in rows) == [("private", 1), ("public", 1)]
    public = next(r for r in rows if r.split == "public")
    assert public.report["epsilons"] == [0.5, 1.0]
    assert (public.noise_floor, public.forget_quality, public.estimator) == (
        0.2,
        0.7,
        "neurips2023",
    )


def test_record_result_refuses_stale_attempt_after_rescore(session, queued_id):
    finish(session, queued_id, public=0.5, private=0.4)
    crud.rescore(session, submission_id=queued_id)
    with pytest.raises(crud.StaleAttempt):
        lifecycle.record_result(
            session, submission_id=queued_id, attempt=1, split="public", report=report(0.9)
        )
    assert crud.get_submission(session, queued_id).public_score == pytest.approx(0.5)


def test_record_result_validates_report(session, queued_id):
    _to_scoring(session, queued_id)
    with pytest.raises(ValueError, match="final_score"):
        lifecycle.record_result(
            session,
            submission_id=queued_id,
            attempt=1,
            split="public",
            report=report(float("nan")),
        )
    with pytest.raises(ValueError, match="split"):
        lifecycle.record_result(
            session,
            submission_id=queued_id,
            attempt=1,
            split="test",  # type: ignore[arg-type]
            report=report(0.5),
        )


def test_mark_failed_refunds_only_system_errors(session, queued_id, world):
    day = utcnow().date()
    lifecycle.mark_failed(
        session,
        submission_id=queued_id,
        attempt=1,
        category=FailureCategory.TIMEOUT,
        message="ran past 600 s",
        system_error=False,
    )
    submission = crud.get_submission(session, queued_id)
    assert (submission.status, submission.failure_category) == (S.FAILED, FailureCategory.TIMEOUT)
    assert (
        crud.quota_used(session, team_id=world.alice.team_id, phase_id=world.phase_id, day=day) == 1
    )
    # failing again is a no-op, and does not refund behind the participant's back
    lifecycle.mark_failed(
        session,
        submission_id=queued_id,
        attempt=1,
        category="system",
        message="x",
        system_error=True,
    )
    assert (
        crud.quota_used(session, team_id=world.alice.team_id, phase_id=world.phase_id, day=day) == 1
    )


def test_mark_failed_system_error_refunds_once(session, client, world):
    ids = [
        client.post(
            f"/api/v1/phases/{world.phase_id}/submissions",
            headers=world.alice.headers,
            files={"file": ("submission.py", VALID_SOURCE)},
        ).json()["id"]
        for _ in range(2)
    ]
    lifecycle.start_sanity_check(session, submission_id=ids[0], worker="w1")
    lifecycle.mark_failed(
        session,
        submission_id=ids[0],
        attempt=1,
        category="scorer",
        message="scorer crashed",
        system_error=True,
    )
    day = utcnow().date()
    assert (
        crud.quota_used(session, team_id=world.alice.team_id, phase_id=world.phase_id, day=day) == 1
    )
    assert crud.get_submission(session, ids[0]).counts_against_quota is False
    events = [e.note for e in crud.get_submission(session, ids[0]).events]
    assert events[-1] == "system failure: scorer"


def test_sanity_check_failure_stops_before_the_expensive_run(session, queued_id):
    submission = lifecycle.start_sanity_check(session, submission_id=queued_id, worker="w1")
    assert submission.status == S.SANITY_CHECK
    lifecycle.record_sanity_check(
        session,
        submission_id=queued_id,
        attempt=1,
        passed=False,
        message="ImportError: no module named foo",
    )
    submission = crud.get_submission(session, queued_id)
    assert (submission.status, submission.failure_category) == (
        S.FAILED,
        FailureCategory.SANITY_CHECK_FAILED,
    )
    assert submission.sanity_check_passed is False
    with pytest.raises(crud.Conflict):
        lifecycle.start_scoring(session, submission_id=queued_id, attempt=1)


def test_phase_without_sanity_check_goes_straight_to_running(session, queued_id, world):
    phase = crud.get_phase(session, world.phase_id)
    phase.sanity_check_required = False
    session.commit()
    assert (
        lifecycle.start_sanity_check(session, submission_id=queued_id, worker="w1").status
        == S.RUNNING
    )


def test_start_sanity_check_takes_each_queued_submission_once(session, client, world):
    ids = [
        client.post(
            f"/api/v1/phases/{world.phase_id}/submissions",
            headers=world.alice.headers,
            files={"file": ("submission.py", VALID_SOURCE)},
        ).json()["id"]
        for _ in range(2)
    ]
    for submission_id, worker in zip(ids, ("w1", "w2"), strict=True):
        lifecycle.start_sanity_check(session, submission_id=submission_id, worker=worker)
    with pytest.raises(crud.Conflict):
        lifecycle.start_sanity_check(session, submission_id=ids[0], worker="w2")
    assert {w.hostname for w in crud.list_workers(session)} == {"w1", "w2"}


def test_requeue_for_retry_bumps_attempt(session, queued_id):
    lifecycle.start_sanity_check(session, submission_id=queued_id, worker="w1")
    submission = lifecycle.requeue_for_retry(
        session, submission_id=queued_id, attempt=1, reason="OOM on host"
    )
    assert (submission.status, submission.attempt) == (S.QUEUED, 2)
    with pytest.raises(crud.StaleAttempt):
        lifecycle.start_scoring(session, submission_id=queued_id, attempt=1)


def test_attach_logs_and_heartbeat(session, queued_id, app):
    key = lifecycle.attach_logs(
        session, app.state.store, submission_id=queued_id, attempt=1, text="epoch 1"
    )
    assert app.state.store.get_bytes(key) == b"epoch 1"
    lifecycle.heartbeat(session, hostname="gpu-1", submission_id=queued_id)
    lifecycle.heartbeat(session, hostname="gpu-1", submission_id=None)
    workers = crud.list_workers(session)
    assert [(w.hostname, w.current_submission_id) for w in workers] == [("gpu-1", None)]


def test_mark_failed_refuses_a_stale_attempt(session, queued_id):
    lifecycle.start_sanity_check(session, submission_id=queued_id, worker="w1")
    lifecycle.requeue_for_retry(session, submission_id=queued_id, attempt=1, reason="worker lost")
    with pytest.raises(crud.StaleAttempt):
        lifecycle.mark_failed(
            session,
            submission_id=queued_id,
            attempt=1,
            category="exception",
            message="late report from the lost worker",
            system_error=False,
        )
    assert crud.get_submission(session, queued_id).status == S.QUEUED
