"""The embedded default: no Redis, no PostgreSQL. A real worker process on kombu's SQLAlchemy
transport (`sqla+sqlite`) with a `db+sqlite` result backend evaluates a submission stored in
the server's SQLite database, chord included."""

from __future__ import annotations

from pathlib import Path

import pytest

from competition import preparation
from competition.artifacts import ArtifactStore
from competition.db import make_engine, make_sessionmaker, upgrade_to_head
from competition.models import SubmissionStatus
from competition.pipeline_models import PreparationState
from competition.settings import PipelineSettings
from tests.worker.factories import FAKE_BACKEND, Pipeline
from tests.worker.pipeline_fakes import expected_score
from tests.worker.services import child_env, wait_for, worker
from worker.celery_app import make_celery
from worker.queue import CeleryQueue

pytestmark = [
    pytest.mark.slow,
    # kombu's SQLAlchemy transport declares a `noload` relationship, deprecated in SQLAlchemy 2.1
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]


def test_embedded_worker_without_broker_services_finishes_a_submission(tmp_path: Path) -> None:
    settings = {
        "UNLEARN_DATA_DIR": str(tmp_path),
        "UNLEARN_SANDBOX": "local",
        "UNLEARN_EVALUATION_BACKEND": FAKE_BACKEND,
        "UNLEARN_SHARD_SIZE": "2",
        "UNLEARN_LEASE_S": "10",
        "UNLEARN_HEARTBEAT_S": "2",
    }
    config = PipelineSettings(data_dir=tmp_path)
    assert config.resolved_broker_url.startswith("sqla+sqlite:///")
    assert config.resolved_result_backend.startswith("db+sqlite:///")
    upgrade_to_head(config.resolved_database_url)
    engine = make_engine(config.resolved_database_url)
    pipeline = Pipeline(
        data_dir=tmp_path,
        sessions=make_sessionmaker(engine),
        store=ArtifactStore(config.resolved_artifacts_url),
    )
    # A new phase, as the API leaves it: sent to prepare, the submission queued behind it.
    phase_id = pipeline.phase(replicas=4, prepared=False)
    submission_id = pipeline.submit(phase_id)
    app = make_celery(config)
    try:
        CeleryQueue(app).prepare_phase(phase_id)
        CeleryQueue(app).enqueue(submission_id)
    finally:
        app.close()
    process = worker(child_env(settings), name="embedded", log_dir=tmp_path)
    try:
        wait_for(
            lambda: pipeline.submission(submission_id).status == SubmissionStatus.FINISHED,
            timeout_s=90,
            what=f"the evaluation; log: {tmp_path / 'embedded.log'}",
        )
    except TimeoutError:
        raise AssertionError((tmp_path / "embedded.log").read_text()[-4000:]) from None
    finally:
        process.stop()
        engine.dispose()
    assert pipeline.submission(submission_id).public_score == pytest.approx(expected_score(4))
    with pipeline.sessions() as session:
        assert preparation.readiness(session, phase_id).state == PreparationState.READY
