"""F3 and F8: runs are independent and timed alone; the output copy is bounded.

Through the real Docker sandbox and the one implementation of the efficiency gate:

- (a) a submission that retrains once, caches the result in every place it can (module
  global, /tmp, /dev/shm, /out, System V shared memory, message queue, semaphore, POSIX
  queue) and reuses it with a seed-dependent tweak in later seeds finds no cache in any
  later seed (its own output says so), so every seed pays a retraining and the gate fails.
  Controls: with every seed in one process (the behaviour before), the cache is found and the
  gate passes; with the IPC limits off, the System V and POSIX channels carry it.
- (b) a submission raising its thread count gets no more CPU than the job's threads: the
  container's CPU quota is the job's one thread, and 4 busy threads get at most 1.1 CPU
  seconds per wall second. Control: a container given 2 CPUs reads a quota of 2.
- (c) a sparse multi-TiB file in /out neither stalls the copy nor survives the run; in the
  shared-process mode (where it stays in /out) the copy still ends at once. Control: the
  daemon's stream of that folder does carry the file's zeros.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from harness.runs.execute import efficiency_gate
from harness.runs.sandbox import docker_client as dc
from harness.runs.sandbox.docker import DockerRunner
from harness.runs.sandbox.outputs import copy_outputs

pytestmark = pytest.mark.docker

SUBMISSIONS = Path(__file__).with_name("submissions")
REUSE = SUBMISSIONS / "retrain_once_reuse.py"
RETRAIN_S = 1.0  # the gate's retraining; the exploit's own "retraining" takes 0.6 s
GATE = 0.2
SEEDS = tuple(range(8))  # a production shard


def _places(text: str, verb: str) -> set[str]:
    return set(re.findall(rf"^{verb} (\w+)$", text, flags=re.MULTILINE))


def _reuse(runner: DockerRunner, make_job):  # type: ignore[no-untyped-def]
    outcomes = runner.run(make_job(REUSE, seeds=SEEDS))
    assert all(o.ok for o in outcomes), [(o.error, o.log_excerpt) for o in outcomes]
    return outcomes, efficiency_gate(outcomes, retrain_seconds=RETRAIN_S, max_run_fraction=GATE)


def test_a_result_cached_by_one_run_is_found_by_no_later_run(test_settings, make_job, tmp_path):
    outcomes, gate = _reuse(DockerRunner(test_settings, work_dir=tmp_path), make_job)
    for outcome in outcomes:  # every run retrained, and found no cache anywhere
        assert "CACHE MISS" in outcome.log_excerpt, outcome.log_excerpt
        assert _places(outcome.log_excerpt, "HIT") == set(), outcome.log_excerpt
    stored = _places(outcomes[0].log_excerpt, "STORED")
    assert {"global", "tmp", "dev_shm", "out", "sysv_shm"} <= stored, stored
    assert not stored & {"sysv_msg", "sysv_sem", "mqueue"}, stored  # cannot even be made
    assert all(o.seconds >= 0.6 for o in outcomes), [o.seconds for o in outcomes]
    assert not gate.passed, gate


def test_control_every_seed_in_one_process_finds_the_cache_and_passes_the_gate(
    test_settings, make_job, tmp_path
):
    runner = DockerRunner(test_settings, work_dir=tmp_path, isolate_runs=False)
    outcomes, gate = _reuse(runner, make_job)
    log = outcomes[0].log_excerpt  # one process: the container's log holds every seed
    assert log.count("CACHE MISS") == 1, log
    assert {"global", "dev_shm", "out"} <= _places(log, "HIT"), log
    assert gate.passed, gate


def test_control_without_the_ipc_limits_system_v_and_posix_queues_carry_the_cache(
    test_settings, make_job, tmp_path
):
    runner = DockerRunner(replace(test_settings, ipc_limits=False), work_dir=tmp_path)
    outcomes = runner.run(make_job(REUSE, seeds=(0, 1)))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert "CACHE MISS" in outcomes[0].log_excerpt
    assert "mqueue" in _places(outcomes[0].log_excerpt, "STORED"), outcomes[0].log_excerpt
    hits = _places(outcomes[1].log_excerpt, "HIT")
    assert {"sysv_shm", "sysv_msg", "sysv_sem"} <= hits, outcomes[1].log_excerpt
    # The sweep still holds: it also empties /dev/mqueue, where POSIX queues live.
    assert not hits & {"global", "tmp", "dev_shm", "out", "mqueue"}, hits


def _cpu_figures(settings, make_job, tmp_path):  # type: ignore[no-untyped-def]
    runner = DockerRunner(settings, work_dir=tmp_path)
    [outcome] = runner.run(make_job(SUBMISSIONS / "raise_threads.py"))
    assert outcome.ok, outcome.error
    text = outcome.log_excerpt
    assert "THREADS 4" in text, text
    cpu = float(re.findall(r"CPU_PER_WALL ([0-9.]+)", text)[-1])
    quota = float(re.findall(r"QUOTA_CPUS (-?[0-9.]+)", text)[-1])
    return cpu, quota


def test_raising_the_thread_count_gains_no_cpu(test_settings, make_job, tmp_path):
    cpu, quota = _cpu_figures(test_settings, make_job, tmp_path)  # a 1-thread job
    assert quota == 1.0, "the CPU quota is not the job's one thread"
    assert cpu <= 1.1, f"{cpu:.2f} CPU seconds per wall second with 4 threads under --cpus 1"


def test_control_a_larger_quota_is_seen_as_such(test_settings, make_job, tmp_path):
    """The quota check can fail: a container given 2 CPUs reads 2 (whether 4 threads then
    get more than one CPU depends on how busy this 2-core machine is, so it is not asserted)."""
    _, quota = _cpu_figures(replace(test_settings, cpus=2.0), make_job, tmp_path)
    assert quota == 2.0


def test_a_sparse_file_in_out_neither_stalls_the_copy_nor_survives(
    test_settings, make_job, tmp_path
):
    started = time.monotonic()
    [outcome] = DockerRunner(test_settings, work_dir=tmp_path).run(
        make_job(SUBMISSIONS / "sparse_output.py")
    )
    assert f"SPARSE {8 << 40}" in outcome.log_excerpt, outcome.log_excerpt
    assert outcome.ok, outcome.error  # emptied with /out after the run
    assert time.monotonic() - started < 45


def test_a_sparse_file_left_in_out_cuts_the_copy_short(test_settings, make_job, tmp_path):
    runner = DockerRunner(test_settings, work_dir=tmp_path, isolate_runs=False)
    started = time.monotonic()
    [outcome] = runner.run(make_job(SUBMISSIONS / "sparse_output.py"))
    assert time.monotonic() - started < 45
    assert outcome.error is not None and outcome.error.category == "invalid_output"
    assert "more than its expected files" in outcome.error.message


@pytest.fixture
def sparse_holder(test_settings):  # type: ignore[no-untyped-def]
    """A holder container whose /out volume holds weights and two sparse 8 TiB files."""
    name = f"unlearn-test-sparse-{uuid.uuid4().hex[:8]}"
    dc.create_output_volume(name, size="16m", inodes=64, uid=65534, gid=65534, labels={})
    flags = dc.hardening_flags(
        test_settings, threads=1, mounts=[], labels={}, volumes=[(name, "/out", False)]
    )
    script = (
        "import os\n"
        "for n in ('aa', 'zz'):\n"
        "    open(f'/out/{n}', 'wb').truncate(8 << 40)\n"
        "open('/out/seed-0.safetensors', 'wb').write(b'x' * 1000)\n"
        "import time; time.sleep(600)\n"
    )
    dc.create_container(
        name=name,
        image=test_settings.image,
        flags=flags,
        command=["-c", script],
        entrypoint="/opt/venv/bin/python",
    )
    try:
        dc.start_container(name)
        time.sleep(2)
        yield name
    finally:
        dc.remove_container(name)
        dc.remove_volume(name)


def test_copy_outputs_stops_within_its_byte_budget(sparse_holder):
    started = time.monotonic()
    files = copy_outputs(sparse_holder, seeds=(0,), limit=1 << 20)
    assert time.monotonic() - started < 20
    assert set(files) <= {"seed-0.safetensors", "status.json", "log-0.txt"}


def test_control_the_daemons_stream_of_out_carries_the_sparse_zeros(sparse_holder):
    read = 0
    with dc.copy_out(sparse_holder, "/out") as stream:
        while read < 256 << 20 and (chunk := stream.read(1 << 20)):
            read += len(chunk)
    assert read >= 256 << 20  # far past what the expected files hold: the bound matters
