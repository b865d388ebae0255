"""Hole 5: no output cap in the compose deployment (the worker could not mount a tmpfs, so
the output folder silently became a plain host folder).

/out is now a tmpfs that the Docker daemon itself mounts (a size- and file-capped `local`
volume), copied out with `docker cp`: nothing is mounted by the caller, so the same holds in
the compose deployment, and there is no uncapped fallback. The exploit fills /out; it must
stop at the cap. The control raises the cap and sees the exploit write more, so the
measurement can fail; settings without a cap refuse to run.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runs.sandbox.docker import DockerRunner

pytestmark = pytest.mark.docker

FILL = Path(__file__).with_name("submissions") / "fill_output.py"
MIB = 1 << 20


def _written(settings, make_job, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    runner = DockerRunner(settings, work_dir=tmp_path / "jobs")
    [outcome] = runner.run(make_job(FILL))
    assert outcome.ok, outcome.error
    assert not list((tmp_path / "jobs").iterdir())  # nothing left on the host
    return int(re.findall(r"WROTE (\d+)", outcome.log_excerpt)[-1])


def test_a_submission_cannot_write_past_the_output_cap(test_settings, make_job, tmp_path):
    written = _written(replace(test_settings, output_size="16m"), make_job, tmp_path)
    assert written <= 16 * MIB, written


def test_control_a_larger_cap_lets_the_same_exploit_write_more(test_settings, make_job, tmp_path):
    written = _written(replace(test_settings, output_size="48m"), make_job, tmp_path)
    assert written > 16 * MIB, written


@pytest.mark.parametrize("size", ["", "0", "unlimited"])
def test_an_output_folder_without_a_size_cap_refuses_to_run(
    size: str, test_settings, make_job, tmp_path
):
    runner = DockerRunner(replace(test_settings, output_size=size), work_dir=tmp_path)
    with pytest.raises(ConfigError, match="size and a file cap"):
        runner.run(make_job(FILL))
