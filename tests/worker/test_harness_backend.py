"""The production backend on a tiny phase, in process: provision, evaluate, compare with dry-run.

An 8-replica MNIST-1D phase (the fewest the noise floor allows) with a small MLP trained for
one epoch; runs in the in-process sandbox (`LocalRunner`), so this checks the numbers, not the
container (the end-to-end test does that). The pipeline's sharded evaluation must give
exactly the dry-run's score.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from competition.artifacts import evaluation_record_key
from competition.models import Phase, Result, SubmissionStatus
from harness.pipeline import dry_run
from harness.report.record import read_record, record_key
from harness.report.schema import EvaluationReport
from harness.report.verify import passed, verify_record
from harness.runs.sandbox.local import LocalRunner
from tests.worker.factories import Pipeline, configure
from worker import context
from worker.phases import CACHE_PREFIX, phase_info
from worker.tasks.dispatch import start_evaluation
from worker.tasks.provision import prepare_phase

pytestmark = [
    pytest.mark.slow,
    # harness/reference/cache.py as merged leaves a SpooledTemporaryFile to the garbage collector
    # (fixed on the core branch); drop this once main has the fix.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SUBMISSION = (Path(__file__).parents[1] / "sandbox" / "submissions" / "finetune.py").read_text()


@pytest.fixture
def harness_pipeline(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    configure(
        monkeypatch,
        pipeline.data_dir,
        evaluation_backend="worker.harness_backend:HarnessBackend",
        shard_size=4,
    )
    return Pipeline(
        data_dir=pipeline.data_dir,
        sessions=context.get_context().sessions,
        store=context.get_context().store,
    )


def test_sharded_pipeline_score_equals_the_dry_run(
    harness_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = harness_pipeline
    phase_id = pipeline.mnist1d_phase(replicas=8, prepared=False)
    for split in ("public", "private"):
        assert prepare_phase.run(phase_id=phase_id, split=split)["retrain_seconds"] > 0
    assert pipeline.store.list(f"{CACHE_PREFIX}/references")  # published for other workers
    chatty = re.sub(
        r"(def unlearning\(.*\):\n)", r"\1    print('hello from a run')\n", SUBMISSION, count=1
    )
    submission_id = pipeline.submit(phase_id, chatty)
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FINISHED, submission.failure_message
    logs = pipeline.store.get_bytes(submission.logs_key).decode()
    assert logs == "== seeds 0-7 ==\nhello from a run\n"  # development split only
    with pipeline.sessions() as session:
        config = phase_info(session.get(Phase, phase_id)).config
    code = tmp_path / "submission.py"
    code.write_text(SUBMISSION)
    report, *_ = dry_run(code, config, runner=LocalRunner(), cache_dir=pipeline.data_dir / "cache")
    assert submission.public_score == report.final_score
    with pipeline.sessions() as session:
        stored = session.scalars(
            select(Result).where(Result.submission_id == submission_id, Result.split == "public")
        ).one()
        served = EvaluationReport.model_validate(stored.report)
    # One builder: the server's report is the dry-run's but for the run times and what
    # produced it. The attacks beside the score need the test losses the shards carry; the
    # secondary metrics the retain-sample margins they carry and the cached original.
    apart = {"efficiency", "provenance"}
    assert served.model_dump(exclude=apart) == report.model_dump(exclude=apart)
    assert served.mia.population is not None and served.mia.population.retrained is not None
    assert served.mia.population.retrained.models == 8
    assert served.secondary["klom_retain"].value is not None
    assert served.secondary["retain_drift"].value is not None
    assert served.efficiency is not None and served.efficiency.runs == 8
    assert served.provenance.code == report.provenance.code  # the code version, both sides
    assert served.provenance.phase is None, "the phase's settings hold the private seed"
    assert pipeline.store.exists(f"reports/{submission_id}/attempt-1/epsilons.png")
    # Each scored split's record, signed with the server's key, passes every check; the
    # private one is the private split's and carries its score.
    key = record_key(context.get_context().settings.secret_key)
    for split, score in (
        ("public", submission.public_score),
        ("private", submission.private_score),
    ):
        data = pipeline.store.get_bytes(evaluation_record_key(submission_id, 1, split))
        checks = verify_record(data, key=key)
        assert passed(checks) and checks[1].verdict == "pass", checks
        manifest = read_record(data).manifest
        assert manifest["split"]["name"] == split and manifest["score"]["final_score"] == score
        assert manifest["submission"]["sha256"] == submission.sha256


def test_several_originals_score_through_the_server_as_in_the_dry_run(
    harness_pipeline: Pipeline, tmp_path: Path
) -> None:
    """`originals: 2` set in the phase row's recipe: shards of 4 seeds each run from both
    originals (seed mod 2), and the stored score and per-original spread are the dry-run's."""
    pipeline = harness_pipeline
    phase_id = pipeline.phase(
        replicas=8,
        dataset="mnist1d",
        recipe={"epochs": 1, "hidden": [16], "batch_size": 256, "originals": 2},
        split_spec={"forget_fraction": 0.02},
    )
    submission_id = pipeline.submit(phase_id, SUBMISSION)
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FINISHED, submission.failure_message
    with pipeline.sessions() as session:
        config = phase_info(session.get(Phase, phase_id)).config
        stored = session.scalars(
            select(Result).where(Result.submission_id == submission_id, Result.split == "public")
        ).one()
    assert config.originals == 2
    code = tmp_path / "submission.py"
    code.write_text(SUBMISSION)
    report, *_ = dry_run(code, config, runner=LocalRunner(), cache_dir=pipeline.data_dir / "cache")
    assert submission.public_score == report.final_score
    assert report.originals is not None
    assert stored.report["originals"] == report.originals.model_dump(mode="json")
    assert [row.runs for row in report.originals.scores] == [4, 4]
