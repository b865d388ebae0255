"""The sandbox: run a submission's unlearning() once per seed, in a container, return weights.

Modules, one job each: `base` (the Runner interface), `local` (no container, a process
per run), `docker` (the container lifecycle), `docker_client` (docker verbs and every
hardening flag), `job` (the job folder format), `runner` (inside the container: the fork
server), `isolation` (one run per forked process, timed and swept after; used by `runner`
and `local`), `outputs` (the trust boundary: outputs copied out and judged, run times
reconciled with the wall time measured outside), `selfcheck` + `probe` (confinement proven
before the first job), `reaper` (what a dead worker left).

The public names below are imported lazily, so that `python -m harness.runs.sandbox.runner`
inside the container pays for none of the host side.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DockerRunner",
    "Job",
    "LocalRunner",
    "RunOutcome",
    "Runner",
    "SandboxSettings",
    "check_confinement",
    "collect_outputs",
    "confinement_problems",
    "outside_seconds",
    "reap_orphans",
    "run_times",
    "write_job",
]

_HOMES = {
    "DockerRunner": "docker",
    "write_job": "docker",
    "Job": "base",
    "RunOutcome": "base",
    "Runner": "base",
    "LocalRunner": "local",
    "SandboxSettings": "docker_client",
    "check_confinement": "selfcheck",
    "confinement_problems": "selfcheck",
    "collect_outputs": "outputs",
    "outside_seconds": "outputs",
    "run_times": "outputs",
    "reap_orphans": "reaper",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'harness.runs.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.runs.sandbox.{_HOMES[name]}"), name)
