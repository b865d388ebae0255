"""What a run's clock charges: the submission's own work, not the harness's (no Docker).

Each run is timed by the process that forked it (`isolation.run_child`) from the hand-over
(the child's model and loaders built, the submission not yet imported) to the moment its
whole result is in. The fork, the set-up, the child's exit and the sweep after it are the
harness's own fixed cost, the same whatever the submission: under gVisor tenths of a
second, enough to fail a small phase's efficiency gate. The submission's import and
anything it does after `unlearning()` returns, until its weights are sent, are its own.
The same attacks run through the Docker sandbox in tests/sandbox/test_attacks.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.errors import SubmissionCrashed
from harness.runs.execute import efficiency_gate
from harness.runs.sandbox.isolation import ChildLimits, read_result, run_child
from harness.runs.sandbox.local import LocalRunner

ATTACKS = Path(__file__).with_name("attacks")
SUBMISSIONS = Path(__file__).with_name("submissions")
HARNESS_COST_S = 0.3  # each of the set-up and the sweep: a slow sandbox's fixed cost
WORK_S = 0.05  # the submission's own work per run
RETRAIN_S = 1.0  # a small phase: the 20% gate allows 0.2 s per run


def _timed_run() -> tuple[float, float]:
    """One run with a slow set-up and sweep around a short body: (its clock, fork to swept)."""

    def prepare() -> None:
        time.sleep(HARNESS_COST_S)

    def body(_: None) -> tuple[dict[str, object], bytes]:
        time.sleep(WORK_S)
        return {"ok": True}, b"weights"

    started = time.monotonic()
    result = run_child(
        body,
        limits=ChildLimits(result_bytes=1024, capture=False, close_fds=False),
        sweep=lambda pid: time.sleep(HARNESS_COST_S),
        prepare=prepare,
    )
    whole = time.monotonic() - started
    try:
        claim, _, length = read_result(result)
    finally:
        result.close()
    assert claim == {"ok": True} and length == len(b"weights")
    return result.seconds, whole


def test_the_harness_set_up_and_sweep_are_not_charged_so_a_small_phase_passes_the_gate():
    runs = [_timed_run() for _ in range(3)]
    charged = [seconds for seconds, _ in runs]
    assert all(WORK_S <= seconds < HARNESS_COST_S for seconds in charged), charged
    gate = efficiency_gate(charged, retrain_seconds=RETRAIN_S, max_run_fraction=0.2)
    assert gate.passed, gate
    # Control: charged from the fork to the end of the sweep, as before, the same runs fail.
    whole = [seconds for _, seconds in runs]
    assert not efficiency_gate(whole, retrain_seconds=RETRAIN_S, max_run_fraction=0.2).passed


def test_work_done_at_import_is_charged_to_the_run():
    [outcome] = LocalRunner().run(_job(ATTACKS / "work_in_import.py"))
    assert outcome.ok, outcome.error
    assert outcome.seconds >= 1.4, outcome.seconds
    # Control: the same submission without the import's work is charged far less.
    [honest] = LocalRunner().run(_job(SUBMISSIONS / "do_nothing.py"))
    assert honest.ok and honest.seconds < 1.0, honest.seconds


def test_work_done_after_unlearning_returns_is_charged_to_the_run():
    [outcome] = LocalRunner().run(_job(ATTACKS / "work_after_return.py"))
    assert outcome.ok, outcome.error
    assert outcome.seconds >= 1.4, outcome.seconds


def test_a_result_sent_early_is_the_result_and_ends_the_run():
    started = time.monotonic()
    [outcome] = LocalRunner().run(_job(SUBMISSIONS / "early_result.py"))
    assert time.monotonic() - started < 10  # not the 30 s the run meant to go on for
    assert isinstance(outcome.error, SubmissionCrashed)
    assert outcome.error.message == "sent early"
    assert outcome.seconds < 5, outcome.seconds


def _job(submission: Path):  # type: ignore[no-untyped-def]
    from tests.sandbox.conftest import tiny_job

    return tiny_job(submission)
