"""The evaluation flow in one process (Celery eager): upload -> shards -> score -> finished."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from api.leaderboard import compute_leaderboard
from competition.models import FailureCategory, Phase, Result, SubmissionStatus
from competition.pipeline_models import ShardRun, ShardState
from tests.worker.pipeline_fakes import expected_score
from worker.tasks.dispatch import start_evaluation
from worker.tasks.score import finish_evaluation


def test_start_evaluation_runs_every_shard_and_records_both_splits(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(replicas=5))
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FINISHED
    assert submission.public_score == pytest.approx(expected_score(5))
    with pipeline.sessions() as session:
        shards = session.scalars(select(ShardRun).order_by(ShardRun.shard)).all()
        results = session.scalars(select(Result)).all()
    assert [(s.split, s.seeds) for s in shards] == [
        ("public", [0, 1]),
        ("public", [2, 3]),
        ("public", [4]),
        ("private", [0, 1]),
        ("private", [2, 3]),
        ("private", [4]),
    ]
    assert all(s.state == ShardState.DONE and s.tries == 1 for s in shards)
    assert sorted(r.split for r in results) == ["private", "public"]
    assert pipeline.store.exists(results[0].plot_keys[0])


def test_evaluation_stores_development_split_logs_per_seed_only(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(replicas=4))
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.logs_key
    logs = pipeline.store.get_bytes(submission.logs_key).decode()
    assert logs == "".join(
        f"== seed {seed} ==\nprinted by public seed {seed}\n" for seed in range(4)
    )
    assert "private" not in logs
    with pipeline.sessions() as session:
        shards = session.scalars(select(ShardRun)).all()
    assert all(s.seeds_done == len(s.seeds) for s in shards)  # the live progress, per run


def test_start_evaluation_is_a_noop_when_delivered_twice(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(replicas=4))
    assert start_evaluation.delay(submission_id=submission_id).get() == "sanity_check"
    assert start_evaluation.delay(submission_id=submission_id).get() == "skipped"
    log = (Path(pipeline.data_dir) / "executions.log").read_text().splitlines()
    assert len(log) == 4  # per split, shards [0, 1] and [2, 3], each executed once


def test_finish_evaluation_replayed_keeps_one_result_per_split(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(replicas=4))
    start_evaluation.delay(submission_id=submission_id)
    assert finish_evaluation.delay(submission_id=submission_id, attempt=1).get() == "skipped"
    with pipeline.sessions() as session:
        assert len(session.scalars(select(Result)).all()) == 2


def test_sanity_check_failure_fails_submission_before_any_shard(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(), "def unlearn(net):\n    pass\n")
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FAILED
    assert submission.failure_category == FailureCategory.SANITY_CHECK_FAILED
    assert "unlearning" in submission.failure_message
    assert not (Path(pipeline.data_dir) / "executions.log").exists()


def test_phase_without_sanity_check_goes_straight_to_shards(pipeline) -> None:
    submission_id = pipeline.submit(pipeline.phase(replicas=4, sanity=False))
    assert start_evaluation.delay(submission_id=submission_id).get() == "running"
    assert pipeline.submission(submission_id).status == SubmissionStatus.FINISHED


def test_runs_over_the_efficiency_gate_fail_as_too_slow_and_stay_off_the_board(pipeline) -> None:
    # The fake runs take 5% of a retraining; this phase allows 1%.
    phase_id = pipeline.phase(replicas=4, max_run_fraction=0.01)
    submission_id = pipeline.submit(phase_id)
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FAILED
    assert submission.failure_category == FailureCategory.TOO_SLOW
    assert "a run takes 0.05 s (median of 4), 5% of one retraining" in submission.failure_message
    assert "over the gate of 1%: the competition rejects it" in submission.failure_message
    assert submission.failure_split == "public"  # both too slow: the public figures are shown
    assert submission.public_score is None
    with pipeline.sessions() as session:
        assert session.scalars(select(Result)).all() == []


def _racing_phase(pipeline, *, name: str, top_k: int = 1, rule: str = "both") -> int:
    phase_id = pipeline.phase(replicas=8, name=name)
    with pipeline.sessions() as session:
        phase = session.get(Phase, phase_id)
        phase.config = phase.config.with_(racing={"top_k": top_k, "first_round": 2, "rule": rule})
        session.commit()
    return phase_id


def test_a_row_stopped_under_the_predicted_rule_is_ranked_on_its_prediction(pipeline) -> None:
    """Under ``predicted`` the rounds before N are predictions of the full-N score; a row
    stopped at n is recorded on that scale (both splits), its score at n kept beside it."""
    phase_id = _racing_phase(pipeline, name="predicted race", rule="predicted")
    leader = pipeline.submit(phase_id)
    start_evaluation.delay(submission_id=leader)
    assert pipeline.submission(leader).provisional_runs is None
    weak = pipeline.submit(phase_id, email="b@b.cd")
    start_evaluation.delay(submission_id=weak)  # its prediction: 10 below the leader's N
    stopped = pipeline.submission(weak)
    assert stopped.status == SubmissionStatus.FINISHED and stopped.provisional_runs == 2
    with pipeline.sessions() as session:
        reports = {
            r.split: r.report
            for r in session.scalars(select(Result).where(Result.submission_id == weak))
        }
    assert set(reports) == {"public", "private"}
    for report in reports.values():
        assert report["predicted"] is True
        assert report["score_at_n"]["n"] == 2
        assert report["final_score"] == pytest.approx(report["score_at_n"]["final_score"] - 10.0)
        low, high = report["final_score_ci"]
        assert low < report["final_score"] < high
    assert stopped.public_score == pytest.approx(reports["public"]["final_score"])
    assert reports["public"]["racing"]["profile"][0]["score"] == pytest.approx(
        reports["public"]["final_score"]
    )


def test_racing_phase_runs_rounds_and_stops_a_row_out_of_reach(pipeline) -> None:
    """Rounds 2, 4, 8 as successive chords: the first row runs all 8 seeds (no board yet);
    a second one far below it stops after round 2 and is marked provisional."""
    phase_id = _racing_phase(pipeline, name="race")
    leader = pipeline.submit(phase_id)
    start_evaluation.delay(submission_id=leader)
    first = pipeline.submission(leader)
    assert first.status == SubmissionStatus.FINISHED and first.provisional_runs is None
    with pipeline.sessions() as session:
        report = session.scalars(select(Result.report).where(Result.split == "public")).one()
    assert report["racing"]["n"] == 8 and not report["racing"]["provisional"]
    assert [r["n"] for r in report["racing"]["profile"]] == [2, 4, 8]
    # Push the leader's round scores far above anything the fake can score.
    with pipeline.sessions() as session:
        result = session.scalars(select(Result).where(Result.split == "public")).one()
        raised = dict(result.report)
        raised["racing"] = {
            **raised["racing"],
            "profile": [
                {"n": r["n"], "score": 100.0, "low": 99.0, "high": 101.0}
                for r in raised["racing"]["profile"]
            ],
        }
        result.report = raised
        session.commit()
    (Path(pipeline.data_dir) / "executions.log").unlink()
    weak = pipeline.submit(phase_id, email="b@b.cd")
    start_evaluation.delay(submission_id=weak)
    second = pipeline.submission(weak)
    assert second.status == SubmissionStatus.FINISHED
    assert second.provisional_runs == 2
    log = (Path(pipeline.data_dir) / "executions.log").read_text().splitlines()
    assert sorted(line.split(" ", 2)[2] for line in log) == ["[0, 1]", "[0, 1]"]
    with pipeline.sessions() as session:
        board = compute_leaderboard(session, session.get(Phase, phase_id), "public")
    assert {row.submission_id: row.provisional_runs for row in board.rows} == {
        leader: None,
        weak: 2,
    }
