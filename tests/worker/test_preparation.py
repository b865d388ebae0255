"""A phase's preparation in one process (Celery eager, SQLite, fake backend): submissions wait
for a phase being prepared, start once it is ready, and fail refunded when it cannot be; the
upload refuses such a phase until an organizer fixes it; lost or stale preparations recover.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from api import crud, schemas
from competition import lifecycle, preparation
from competition.errors import PhaseUnavailable
from competition.models import FailureCategory, Phase, SubmissionStatus, User, utcnow
from competition.pipeline_models import PhasePreparation, PreparationState
from competition.settings import PipelineSettings
from tests.worker.factories import Pipeline, configure
from tests.worker.pipeline_fakes import RETRAIN_SECONDS, UNPREPARABLE, expected_score
from worker import context
from worker.reconcile import find_stuck
from worker.tasks.dispatch import start_evaluation
from worker.tasks.provision import prepare_phase

P = PreparationState


def _readiness(pipeline, phase_id: int) -> preparation.Readiness:
    with pipeline.sessions() as session:
        return preparation.readiness(session, phase_id)


def _quota_used(pipeline, phase_id: int) -> int:
    with pipeline.sessions() as session:
        team_id = session.query(User).filter_by(email="a@b.cd").one().team_id
        return crud.quota_used(session, team_id=team_id, phase_id=phase_id, day=utcnow().date())


def _preparations(pipeline) -> list[str]:
    log = Path(pipeline.data_dir) / "preparations.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_submission_waits_for_its_phase_and_runs_once_it_is_prepared(pipeline) -> None:
    phase_id = pipeline.phase(replicas=4, prepared=False)
    assert _readiness(pipeline, phase_id).state == P.PENDING  # no rows yet: pending
    submission_id = pipeline.submit(phase_id)
    # The first start finds the phase unprepared: it sends the preparation, which starts the
    # queued submission once both splits are ready (eagerly, inside this call).
    assert start_evaluation.delay(submission_id=submission_id).get() == "waiting_for_phase"
    ready = _readiness(pipeline, phase_id)
    assert ready.state == P.READY
    assert [s.retrain_seconds for s in ready.splits] == [RETRAIN_SECONDS, RETRAIN_SECONDS]
    assert [(s.stage, s.done, s.total) for s in ready.splits] == [("reference", 4, 4)] * 2
    assert sorted(_preparations(pipeline)) == [f"{phase_id} private", f"{phase_id} public"]
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FINISHED
    assert submission.public_score == pytest.approx(expected_score(4))
    # A second delivery of a preparation finds the split ready and trains nothing.
    again = prepare_phase.delay(phase_id=phase_id, split="public").get()
    assert again["claim"].startswith("not claimed")
    assert len(_preparations(pipeline)) == 2


def test_a_phase_that_cannot_be_prepared_fails_its_submissions_refunded_and_refuses_uploads(
    pipeline,
) -> None:
    phase_id = pipeline.phase(replicas=4, prepared=False, dataset=f"{UNPREPARABLE}/srv/missing")
    submission_id = pipeline.submit(phase_id)
    assert _quota_used(pipeline, phase_id) == 1
    start_evaluation.delay(submission_id=submission_id)

    ready = _readiness(pipeline, phase_id)
    assert ready.state == P.FAILED
    assert "FileNotFoundError: no dataset at /srv/missing" in ready.error  # for organizers
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FAILED
    assert submission.failure_category == FailureCategory.PHASE_UNAVAILABLE
    assert submission.failure_message == preparation.UNAVAILABLE_MESSAGE
    assert "/srv/missing" not in submission.failure_message  # the reason stays with organizers
    assert _quota_used(pipeline, phase_id) == 0  # refunded

    with pytest.raises(PhaseUnavailable, match="could not be prepared"):
        pipeline.submit(phase_id)
    assert _quota_used(pipeline, phase_id) == 0  # nothing charged for the refusal
    # Nothing retries a failed preparation by itself: the cause is in the phase or the data.
    with pipeline.sessions() as session:
        assert find_stuck(session, settings=PipelineSettings(queued_grace_s=0)).prepare == []

    # The organizer fixes the dataset (the failed submission never ran, so the experiment may
    # change); the phase is prepared again and takes submissions.
    with pipeline.sessions() as session:
        phase = session.get(Phase, phase_id)
        assert crud.update_phase(session, phase, schemas.PhaseUpdate(dataset="digits")) is True
    assert _readiness(pipeline, phase_id).state == P.PENDING
    for split in lifecycle.SPLITS:
        prepare_phase.delay(phase_id=phase_id, split=split)
    assert _readiness(pipeline, phase_id).state == P.READY
    fixed = pipeline.submit(phase_id)
    start_evaluation.delay(submission_id=fixed)
    assert pipeline.submission(fixed).status == SubmissionStatus.FINISHED


def test_a_preparation_reset_meanwhile_cannot_mark_the_edited_phase_ready(pipeline) -> None:
    phase_id = pipeline.phase(prepared=False)
    with pipeline.sessions() as session:
        assert preparation.claim(
            session, phase_id=phase_id, split="public", holder="old", lease_s=60
        )
        assert not preparation.claim(  # held under a live lease
            session, phase_id=phase_id, split="public", holder="other", lease_s=60
        )
        preparation.reset(session, phase_id)  # the organizer edited the phase
        session.commit()
        finished = preparation.finish(
            session, phase_id=phase_id, split="public", holder="old", retrain_seconds=1.0
        )
        assert finished.splits[0].state == P.PENDING
        assert not preparation.fail(
            session, phase_id=phase_id, split="public", holder="old", error="late"
        )
        assert preparation.readiness(session, phase_id).error == ""


def test_reconciler_resends_lost_and_abandoned_preparations(pipeline) -> None:
    lost = pipeline.phase(name="lost", prepared=False)
    abandoned = pipeline.phase(name="abandoned", prepared=False)
    settings = PipelineSettings(queued_grace_s=60, lease_s=120)
    with pipeline.sessions() as session:
        preparation.reset(session, lost)
        session.commit()
        assert preparation.claim(
            session, phase_id=abandoned, split="private", holder="dead", lease_s=120
        )
        now = utcnow()
        # Within the grace and the lease: nothing to re-send.
        assert find_stuck(session, settings=settings, now=now).prepare == []
        later = now + timedelta(seconds=200)
        stuck = sorted(find_stuck(session, settings=settings, now=later).prepare)
    assert stuck == sorted([(lost, "public"), (lost, "private"), (abandoned, "private")])
    # The abandoned split's lease expired: another worker takes it over and finishes it.
    with pipeline.sessions() as session:
        assert preparation.claim(
            session,
            phase_id=abandoned,
            split="private",
            holder="alive",
            lease_s=120,
            now=utcnow() + timedelta(seconds=200),
        )
        row = session.query(PhasePreparation).filter_by(phase_id=abandoned, split="private").one()
        assert (row.state, row.holder) == (P.PREPARING, "alive")


def test_the_real_backend_refuses_to_prepare_an_own_data_set_whose_private_split_is_guessable(
    pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 40 groups, 2 forgotten: once a team knows the dev and public groups, the private ones
    # are one of C(36, 2) = 630 pairs (9.3 bits). The API cannot count an own set's groups;
    # the worker does, before training anything.
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.savez(
        folder / "data.npz",
        x=rng.normal(size=(400, 4)).astype(np.float32),
        y=rng.integers(0, 3, size=400),
        groups=np.arange(400) % 40,
    )
    configure(monkeypatch, tmp_path, evaluation_backend="worker.harness_backend:HarnessBackend")
    real = Pipeline(tmp_path, context.get_context().sessions, context.get_context().store)
    spec = {"forget_mode": "groups", "forget_count": 2}
    phase_id = real.phase(replicas=4, prepared=False, dataset=f"folder:{folder}", split_spec=spec)
    outcome = prepare_phase.run(phase_id=phase_id, split="public")
    assert "forgetting 2 of 40 groups" in outcome["failed"]
    ready = _readiness(real, phase_id)
    assert ready.state == P.FAILED and "bits of secrecy" in ready.error  # for organizers
    assert not (tmp_path / "cache" / "references").exists()  # nothing was trained
