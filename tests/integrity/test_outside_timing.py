"""Hole 2: the efficiency gate believed the container's clock.

Each exploit runs through the real Docker sandbox and the one implementation of the gate
(`harness.runs.execute.efficiency_gate`, which the dry-run and the worker's report both call),
against a retraining of RETRAIN_S seconds and the default 20% gate. Each retrains at 170%
of a retraining per run; with time measured outside the container it fails the gate. The
controls switch outside timing off (the runner's claims believed, as before the fix) and
run every seed in one process (as before per-run isolation, which makes
`work_in_first_seed` repeat its work in every seed): the same exploits then pass, so the
tests can fail; and an honest fast submission passes with outside timing, so the figure is
not simply always large.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.runs.execute import efficiency_gate
from harness.runs.sandbox.docker import DockerRunner

pytestmark = pytest.mark.docker

SUBMISSIONS = Path(__file__).with_name("submissions")
HONEST = Path(__file__).parents[1] / "sandbox" / "submissions" / "do_nothing.py"
RETRAIN_S = 1.0
GATE = 0.2
EXPLOITS = ["frozen_clock_retrain", "work_in_first_seed"]


def _gate(runner: DockerRunner, submission: Path, make_job, seeds=(0, 1, 2)):  # type: ignore[no-untyped-def]
    outcomes = runner.run(make_job(submission, seeds=seeds))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return efficiency_gate(outcomes, retrain_seconds=RETRAIN_S, max_run_fraction=GATE)


@pytest.mark.parametrize("exploit", EXPLOITS)
def test_exploit_fails_the_gate_with_time_measured_outside(
    exploit: str, test_settings, make_job, tmp_path: Path
) -> None:
    runner = DockerRunner(test_settings, work_dir=tmp_path)
    gate = _gate(runner, SUBMISSIONS / f"{exploit}.py", make_job)
    assert not gate.passed, gate
    assert gate.fraction >= 1.6, gate  # its 170%, less nothing it could forge


@pytest.mark.parametrize("exploit", EXPLOITS)
def test_control_exploit_passes_the_gate_when_the_runners_clock_is_believed(
    exploit: str, test_settings, make_job, tmp_path: Path
) -> None:
    runner = DockerRunner(
        test_settings, work_dir=tmp_path, outside_timing=False, isolate_runs=False
    )
    gate = _gate(runner, SUBMISSIONS / f"{exploit}.py", make_job)
    assert gate.passed, gate


def test_control_an_honest_fast_submission_passes_with_time_measured_outside(
    test_settings, make_job, tmp_path: Path
) -> None:
    gate = _gate(DockerRunner(test_settings, work_dir=tmp_path), HONEST, make_job, (0, 1, 2, 3))
    assert gate.passed, gate


def test_a_small_phase_is_not_failed_by_the_sandboxs_own_cost_under_gvisor(
    runsc_settings, make_job, tmp_path: Path
) -> None:
    """Each run is charged from the hand-over to its result, on the runner's clock: the fork,
    the set-up, the exit and the sweep (tenths of a second per run under gVisor before) are
    the sandbox's own, so an honest fast submission passes a phase with a short retraining."""
    retrain_s, seeds = 0.5, (0, 1, 2, 3)  # the 20% gate allows 100 ms per run
    runner = DockerRunner(runsc_settings, work_dir=tmp_path)
    started = time.monotonic()
    outcomes = runner.run(make_job(HONEST, seeds=seeds))
    per_seed_s = (time.monotonic() - started) / len(seeds)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    gate = efficiency_gate(outcomes, retrain_seconds=retrain_s, max_run_fraction=GATE)
    assert gate.passed, gate
    # Control: the sandbox's own cost per seed is real and over the allowance; charged to
    # the runs, as it was, this phase would fail.
    assert not efficiency_gate(
        [per_seed_s], retrain_seconds=retrain_s, max_run_fraction=GATE
    ).passed
