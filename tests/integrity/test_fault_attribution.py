"""Hole 3: a submission could make its own failure look like ours, and be retried and refunded.

Each exploit is submitted to the real worker path (the server's `crud`, Celery tasks run
eagerly in process, the production `HarnessBackend` with the real Docker sandbox, SQLite)
on one small MNIST-1D phase, and must end as the submission's failure: FAILED, its own
category and a message saying what was wrong, first attempt, quota still charged. The
control breaks Docker instead (a missing sandbox image): the same path then raises, and the
submission is neither failed nor charged as its own fault, so the assertions can fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from competition.models import FailureCategory, SubmissionStatus
from harness.errors import ConfigError
from tests.worker.factories import Pipeline, configure
from worker import context
from worker.tasks.dispatch import start_evaluation
from worker.tasks.provision import prepare_phase

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ATTACKS = Path(__file__).parents[1] / "sandbox" / "attacks"
SEED_FLOOR_S = 2.0  # the per-seed time limit's floor in these tests (60 s in production)


@pytest.fixture(scope="module")
def docker_pipeline(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator:
    """A provisioned phase evaluated by the production backend in the Docker sandbox."""
    from worker.celery_app import app, celery_config

    data_dir = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as monkeypatch:
        configure(
            monkeypatch,
            data_dir,
            evaluation_backend="worker.harness_backend:HarnessBackend",
            sandbox="docker",
            sandbox__image=sandbox_image,
            # runc by name: these seeds are timed against a 2 s floor, and gVisor's slower
            # start is not what they test (tests/integrity/test_sandbox_runtime.py is).
            sandbox__runtime="runc",
            shard_size=8,
            seed_time_floor_s=SEED_FLOOR_S,
            lease_s=60,
            heartbeat_s=5,
        )
        ctx = context.get_context()
        app.conf.update(celery_config(ctx.settings))
        app._local.__dict__.pop("backend", None)
        app.loader.import_default_modules()
        app.conf.task_always_eager = True
        app.conf.task_eager_propagates = True
        pipeline = Pipeline(data_dir=data_dir, sessions=ctx.sessions, store=ctx.store)
        phase_id = pipeline.phase(
            replicas=8,
            dataset="mnist1d",
            recipe={"epochs": 1, "hidden": [16], "batch_size": 256},
            split_spec={"forget_fraction": 0.02},
            max_run_fraction=1.0,
            prepared=False,
        )
        try:
            for split in ("public", "private"):
                prepare_phase.run(phase_id=phase_id, split=split)
            yield pipeline, phase_id
        finally:
            app.conf.task_always_eager = False
            app.conf.task_eager_propagates = False
            context.reset()


def _evaluate(pipeline: Pipeline, phase_id: int, attack: str, email: str):  # type: ignore[no-untyped-def]
    source = (ATTACKS / f"{attack}.py").read_text(encoding="utf-8")
    submission_id = pipeline.submit(phase_id, source, email=email)
    start_evaluation.delay(submission_id=submission_id)
    return pipeline.submission(submission_id)


def _assert_charged(submission, category: FailureCategory, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert submission.status == SubmissionStatus.FAILED, submission.status
    assert submission.failure_category == category, submission.failure_message
    for word in words:
        assert word in submission.failure_message, submission.failure_message
    assert submission.attempt == 1  # never retried
    assert submission.counts_against_quota  # never refunded


def test_a_nested_json_result_is_the_submissions_invalid_output(docker_pipeline) -> None:
    pipeline, phase_id = docker_pipeline
    submission = _evaluate(pipeline, phase_id, "nested_status", "nested@x.org")
    # The sanity failure reads as the harness's sentence (its category code stays internal).
    _assert_charged(submission, FailureCategory.SANITY_CHECK_FAILED, "could not be read")


def test_weights_whose_logits_overflow_are_the_submissions_invalid_output(docker_pipeline) -> None:
    pipeline, phase_id = docker_pipeline
    submission = _evaluate(pipeline, phase_id, "overflowing_weights", "overflow@x.org")
    _assert_charged(submission, FailureCategory.INVALID_OUTPUT, "logits", "not finite")


def test_sleeping_past_the_limit_is_a_charged_timeout_within_the_phases_limit(
    docker_pipeline,
) -> None:
    pipeline, phase_id = docker_pipeline
    started = time.monotonic()
    submission = _evaluate(pipeline, phase_id, "sleep_past_limit", "sleepy@x.org")
    elapsed = time.monotonic() - started
    _assert_charged(submission, FailureCategory.SANITY_CHECK_FAILED, "stopped at its time limit")
    settings = context.get_context().settings
    # Stopped at the sandbox's deadline (start-up allowance + the per-seed floor), far
    # inside the shard task's soft limit, which it therefore never reaches.
    assert elapsed < settings.shard_soft_time_limit_s
    assert elapsed < 30.0 + SEED_FLOOR_S + 120.0 + 30.0, elapsed


def test_control_a_docker_failure_is_not_charged_to_the_submission(
    docker_pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, phase_id = docker_pipeline
    backend = context.get_context().backend
    runner = backend.runner
    monkeypatch.setattr(runner, "settings", replace(runner.settings, image="unlearn-sandbox:none"))
    monkeypatch.setattr(runner, "_image_id", None)
    source = (ATTACKS / "nested_status.py").read_text(encoding="utf-8")
    submission_id = pipeline.submit(phase_id, source, email="control@x.org")
    with pytest.raises(ConfigError, match="not found"):
        start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status != SubmissionStatus.FAILED
    assert submission.failure_category is None
