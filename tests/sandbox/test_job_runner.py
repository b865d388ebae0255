"""The job folder format and the in-container runner, run in process (no Docker needed).

Both sides of the sandbox share `job.py`; these tests run `runner.run_job` directly on a
job folder and read its output back with the trusted side's `collect_outputs`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.errors import BadOutput, ConfigError, SubmissionCrashed, TimeLimitExceeded
from harness.runs.sandbox.docker import write_job
from harness.runs.sandbox.job import (
    JobConfig,
    StatusUnreadable,
    parse_status,
    read_job_folder,
    wait_until_ready,
)
from harness.runs.sandbox.outputs import (
    Verdict,
    collect_outputs,
    outside_seconds,
    read_output_folder,
    run_times,
    weights_limit,
)
from harness.runs.sandbox.runner import run_job

SUBMISSIONS = Path(__file__).with_name("submissions")
REPO = Path(__file__).resolve().parents[2]


def _verdict(**overrides: object) -> Verdict:
    fields: dict[str, object] = dict(
        exit_code=0,
        timed_out=False,
        oom_killed=False,
        wall_s=5.0,
        deadline_s=60.0,
        per_seed_s=30.0,
        memory="1g",
        log_tail="",
        runtime=None,
    )
    fields.update(overrides)
    return Verdict(**fields)  # type: ignore[arg-type]


def _collect(out: Path, *, seeds, original, verdict):  # type: ignore[no-untyped-def]
    """The trusted side's judgement of a host folder (the container's /out, copied out)."""
    files = read_output_folder(out, seeds=seeds, limit=weights_limit(original))
    return collect_outputs(files, seeds=seeds, original=original, verdict=verdict)


def _write(tmp_path: Path, job, seeds=(0, 1)) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "job"
    write_job(folder, job, JobConfig(seeds=tuple(seeds), batch_size=job.batch_size))
    return folder


def test_job_folder_round_trips_every_tensor(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "finetune.py")
    files = read_job_folder(_write(tmp_path, job))
    assert files.config.seeds == (0, 1)
    assert files.spec == job.spec
    for name, tensor in job.original.items():
        assert torch.equal(files.original[name], tensor)
    assert torch.equal(files.forget[0], job.forget[0])
    assert torch.equal(files.val[1], job.val[1])
    assert (files.submission_dir / "submission.py").is_file()
    assert oct(os.stat(files.submission_dir / "submission.py").st_mode & 0o777) == "0o644"


def test_runner_writes_valid_weights_per_seed(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "finetune.py")
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, job), out) == 0
    outcomes = _collect(out, seeds=(0, 1), original=job.original, verdict=_verdict())
    assert [o.ok for o in outcomes] == [True, True]
    first, second = (o.state for o in outcomes)
    assert any(not torch.equal(first[k], second[k]) for k in first)  # seeds differ


def test_a_submission_that_breaks_stdout_still_gets_every_seed(tmp_path, make_job, monkeypatch):
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    source = tmp_path / "breaks_stdout.py"
    source.write_text(
        "import sys\n"
        "def unlearning(net, retain_loader, forget_loader, val_loader):\n"
        "    sys.stdout = None\n"
    )
    job = make_job(source)
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, job), out) == 0
    outcomes = _collect(out, seeds=(0, 1), original=job.original, verdict=_verdict())
    assert [o.ok for o in outcomes] == [True, True]


def test_runner_reports_an_exception_with_own_frames(tmp_path, make_job):
    job = make_job(Path(__file__).with_name("attacks") / "crash_traceback.py")
    out = tmp_path / "out"
    out.mkdir()
    run_job(_write(tmp_path, job, seeds=(3,)), out)
    [outcome] = _collect(out, seeds=(3,), original=job.original, verdict=_verdict())
    assert isinstance(outcome.error, SubmissionCrashed)
    assert "ZeroDivisionError" in outcome.error.message
    assert "_helper_that_divides" in outcome.error.log_excerpt
    assert "runner.py" not in outcome.error.log_excerpt
    assert 'File "/' not in outcome.error.log_excerpt  # named as uploaded, not by its folder


def test_missing_weights_after_a_timeout_are_a_timeout(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py")
    [outcome] = _collect(
        tmp_path, seeds=(0,), original=job.original, verdict=_verdict(timed_out=True)
    )
    assert isinstance(outcome.error, TimeLimitExceeded)


def test_forged_status_cannot_claim_a_timeout_or_success(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py")
    forged = {
        "0": {"ok": False, "category": "timeout", "message": "x" * 10_000},
        "1": {"ok": True, "seconds": -5},
        "7": {"ok": True},
    }
    (tmp_path / "status.json").write_text(json.dumps(forged))
    statuses = parse_status((tmp_path / "status.json").read_bytes(), (0, 1))
    assert set(statuses) == {0, 1} and len(statuses[0].message) == 2000
    first, second = _collect(
        tmp_path, seeds=(0, 1), original=job.original, verdict=_verdict(exit_code=0)
    )
    assert isinstance(first.error, SubmissionCrashed)  # not the forged "timeout"
    assert isinstance(second.error, BadOutput) and "left no weights" in second.error.message


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff" * 10, "not valid JSON"),
        (b"[1, 2", "not valid JSON"),
        (b'"a string"', "holds a str"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_status_file_the_runner_cannot_have_written_is_invalid_output(
    tmp_path, make_job, content, why
):
    job = make_job(SUBMISSIONS / "finetune.py")
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, job), out) == 0  # valid weights for both seeds
    with pytest.raises(StatusUnreadable, match=why):
        parse_status(content, (0,))
    (out / "status.json").write_bytes(content)
    outcomes = _collect(out, seeds=(0, 1), original=job.original, verdict=_verdict())
    assert [o.error.category for o in outcomes] == ["invalid_output"] * 2  # type: ignore[union-attr]
    assert all(why in o.error.message for o in outcomes)  # type: ignore[union-attr]


def test_status_behind_a_symlink_is_not_followed(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"0": {"ok": False, "category": "exception", "message": "s"}}))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "status.json").symlink_to(secret)
    [outcome] = _collect(tmp_path / "out", seeds=(0,), original=job.original, verdict=_verdict())
    assert outcome.error is not None and "cannot be read as a plain file" in outcome.error.message


def test_job_folder_is_marked_ready_last_and_refuses_a_used_folder(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "do_nothing.py")
    folder = tmp_path / "job"
    folder.mkdir()  # a standby container has the empty folder mounted already
    assert not wait_until_ready(folder, timeout_s=0.05)
    _write(tmp_path, job)
    assert wait_until_ready(folder, timeout_s=0.0)
    with pytest.raises(ConfigError, match="not empty"):
        _write(tmp_path, job)


def test_a_standby_runner_without_a_job_gives_up_with_exit_status_3(tmp_path):
    (tmp_path / "job").mkdir()
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "harness.runs.sandbox.runner", "job", "out", "--standby", "0.2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 3, result.stderr
    assert "no job arrived within 0.2 s" in result.stderr


def test_outside_seconds_split_the_wall_time_equally():
    assert outside_seconds(12.0, 3) == [4.0, 4.0, 4.0]
    assert outside_seconds(-1.0, 2) == [0.0, 0.0]


def test_collect_outputs_reports_the_outside_time_whatever_the_status_claims(tmp_path, make_job):
    job = make_job(SUBMISSIONS / "finetune.py")
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, job), out) == 0
    forged = {"0": {"ok": True, "seconds": 0.001}, "1": {"ok": True, "seconds": 40.0}}
    (out / "status.json").write_text(json.dumps(forged))
    outcomes = _collect(out, seeds=(0, 1), original=job.original, verdict=_verdict(wall_s=42.0))
    assert [o.ok for o in outcomes] == [True, True]
    assert [o.seconds for o in outcomes] == pytest.approx([21.0, 21.0])
    # The control: with outside timing off, the claims are believed.
    claimed = _collect(
        out, seeds=(0, 1), original=job.original, verdict=_verdict(outside_timing=False)
    )
    assert [o.seconds for o in claimed] == pytest.approx([0.001, 40.0])


def test_run_times_are_the_runners_reconciled_with_the_wall_time():
    log = (
        "runner: standby ready\n"
        "runner: seed 0 done in 1.500000 s\n"
        "runner: seed 1 timeout in 2.000000 s\n"
        "runner: seed 7 done in 9.000000 s\n"  # not a seed of this job: ignored
    )
    times = run_times(log, seeds=(0, 1, 2), wall_s=5.5)
    assert [times[s].seconds for s in (0, 1, 2)] == pytest.approx([1.5, 2.0, 2.0])
    assert [times[s].outcome for s in (0, 1, 2)] == ["done", "timeout", ""]
    # Claims past the wall time measured outside are scaled down to it.
    scaled = run_times(log, seeds=(0, 1), wall_s=1.75)
    assert [scaled[s].seconds for s in (0, 1)] == pytest.approx([0.75, 1.0])


CACHES_IN_A_GLOBAL = (
    "import os, time\n"
    "_CACHE = []\n"
    "def unlearning(net, retain_loader, forget_loader, val_loader):\n"
    "    print('HIT' if _CACHE else 'MISS', os.getpid(), flush=True)\n"
    "    _CACHE.append(1)\n"
    "    open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'left-by-a-run'), 'w').close()\n"
)


def test_each_seed_runs_in_a_fresh_process_of_the_runner(tmp_path, make_job, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    source = tmp_path / "caches.py"
    source.write_text(CACHES_IN_A_GLOBAL)
    job = make_job(source)
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, job, seeds=(0, 1, 2)), out, scratch=scratch) == 0
    logs = [(out / f"log-{seed}.txt").read_text() for seed in (0, 1, 2)]
    assert all(log.startswith("MISS ") for log in logs), logs
    assert len({log.split()[1] for log in logs}) == 3  # three processes
    assert not list(scratch.iterdir())  # each run's scratch file was swept
    outcomes = _collect(out, seeds=(0, 1, 2), original=job.original, verdict=_verdict())
    assert [o.log_excerpt.split()[0] for o in outcomes] == ["MISS"] * 3


def test_control_every_seed_in_one_process_sees_the_cache(tmp_path, make_job, capsys):
    source = tmp_path / "caches.py"
    source.write_text(CACHES_IN_A_GLOBAL)
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(_write(tmp_path, make_job(source), seeds=(0, 1)), out, shared=True) == 0
    printed = capsys.readouterr().out
    assert "MISS" in printed and "HIT" in printed, printed


def test_a_run_past_its_limit_is_killed_and_timed_by_the_runner(tmp_path, make_job, capfd):
    source = tmp_path / "sleeps.py"
    source.write_text(
        "import time\ndef unlearning(net, retain_loader, forget_loader, val_loader):\n"
        "    time.sleep(60)\n"
    )
    job = make_job(source)
    folder = tmp_path / "job"
    write_job(folder, job, JobConfig(seeds=(0,), batch_size=16, time_limit_s=0.5))
    out = tmp_path / "out"
    out.mkdir()
    assert run_job(folder, out) == 0
    times = run_times(capfd.readouterr().out, seeds=(0,), wall_s=30.0)
    assert times[0].outcome == "timeout" and 0.5 <= times[0].seconds < 5, times
    [outcome] = _collect(out, seeds=(0,), original=job.original, verdict=_verdict())
    assert isinstance(outcome.error, SubmissionCrashed)  # no runner line: its own claim
