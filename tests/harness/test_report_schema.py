"""The report's one shape (`harness.report.schema`): round trip, strictness, the gate's
verdict, the racing prediction, the code version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.report.build import SOURCE_ROOT, _git_commit, code_version
from harness.report.schema import EvaluationReport, Gate, RoundRow
from tests.report_factory import racing, scored_report


def test_report_json_round_trips_through_the_model() -> None:
    report = scored_report(0.5).with_racing(racing(n=4, n_total=8))
    stored = report.to_json()
    assert EvaluationReport.model_validate(stored) == report
    # The API's documented keys stay at the top level.
    for key in ("final_score", "final_score_ci", "forget_quality", "noise_floor", "estimator"):
        assert key in stored
    assert stored["racing"]["profile"][-1] == {"n": 4, "score": 0.5, "low": 0.4, "high": 0.6}


def test_report_refuses_a_key_it_does_not_know() -> None:
    stored = scored_report(0.5).to_json()
    with pytest.raises(ValidationError, match="run_fraction"):
        EvaluationReport.model_validate({**stored, "run_fraction": 0.1})
    with pytest.raises(ValidationError, match="efficiency_ratio"):
        EvaluationReport.model_validate(
            {**stored, "efficiency": {**stored["efficiency"], "efficiency_ratio": 0.1}}
        )


def test_gate_verdict_states_the_median_run_against_one_retraining() -> None:
    within = scored_report(0.5, run_seconds=1.0, retrain_seconds=10.0).efficiency
    over = scored_report(0.5, run_seconds=3.0, retrain_seconds=10.0).efficiency
    assert within is not None and over is not None
    assert within.verdict() == (
        "a run takes 1.00 s (median of 8), 10% of one retraining (10.00 s); within the gate of 20%"
    )
    assert over.verdict().startswith("a run takes 3.00 s (median of 8), 30% of one retraining")
    assert over.verdict().endswith("over the gate of 20%: the competition rejects it; make "
                                   "unlearning() faster")  # fmt: skip
    fine = Gate(
        run_seconds_median=1.0, retrain_seconds=200.0, fraction=0.005, max_fraction=0.01,
        passed=True,
    )  # fmt: skip
    assert "0.5% of one retraining" in fine.verdict() and "(median)" in fine.verdict()
    assert "within the gate of 1%" in fine.verdict()


def test_report_eligible_follows_the_gate() -> None:
    assert scored_report(0.5, run_seconds=0.1).eligible
    assert not scored_report(0.5, run_seconds=0.9).eligible


def test_on_full_n_scale_ranks_on_the_prediction_and_keeps_the_score_at_n() -> None:
    report = scored_report(0.3, half_width=0.1)
    predicted = report.on_full_n_scale(RoundRow(n=4, score=0.25, low=0.2, high=0.3))
    assert (predicted.final_score, predicted.final_score_ci, predicted.predicted) == (
        0.25,
        (0.2, 0.3),
        True,
    )
    assert predicted.score_at_n is not None
    assert (predicted.score_at_n.n, predicted.score_at_n.final_score) == (4, 0.3)
    assert predicted.score_at_n.final_score_ci == pytest.approx((0.2, 0.4))


def test_code_version_names_the_checkout_commit() -> None:
    version = code_version()
    assert version.harness and version.torch
    if (SOURCE_ROOT / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert version.git == head
    else:
        assert version.git is None


def test_code_version_has_no_commit_outside_a_checkout(tmp_path: Path) -> None:
    assert _git_commit(tmp_path) is None


def test_schema_loads_without_torch() -> None:
    """The API and the participant CLI read reports without the evaluation core."""
    code = "import sys, harness.report.schema; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
