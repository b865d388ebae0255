"""Finding and removing what a dead worker left: sandbox containers, output volumes, job folders.

Every container and volume the Docker runner makes carries the `unlearn.sandbox` label, the
owner (`unlearn.owner`, host:pid) and a deadline (`unlearn.deadline`, and the `deadline`
file next to the job folder once a standby is handed a job). `reap_orphans()` removes those
whose deadline passed or whose owner process is gone from this host, then output volumes
no container uses any more.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from pathlib import Path

from harness.runs.sandbox import docker_client as dc

__all__ = ["DEADLINE_FILE", "OWNER", "reap_orphans", "remove_job_dir"]

logger = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"
DEADLINE_FILE = "deadline"  # next to job/, host side only: the reaper reads it
WORK_DIR_NAME = "unlearn-sandbox"


def remove_job_dir(root: Path) -> None:
    """Delete a job folder (the job's inputs; outputs never touch the host's disk)."""
    shutil.rmtree(root, ignore_errors=True)


def reap_orphans(*, everything: bool = False) -> list[str]:
    """Remove sandbox containers left behind by a dead worker; return their names.

    A container is an orphan when its deadline has passed, or when the worker process that
    started it (label `unlearn.owner`, host:pid) is gone from this host. `everything=True`
    removes every sandbox container (a worker calling it at start-up owns none yet).
    Output volumes that no remaining container uses are removed too.
    """
    reaped = []
    for container in dc.list_containers():
        job_dir = container.get("label:unlearn.job_dir")
        if everything or _orphaned(container, _deadline_file(Path(job_dir)) if job_dir else 0.0):
            dc.remove_container(container["name"])
            if job_dir and Path(job_dir).parent.name == WORK_DIR_NAME:
                remove_job_dir(Path(job_dir))
            reaped.append(container["name"])
    # After the containers: the daemon refuses to remove a volume still in use.
    for volume in dc.list_volumes():
        if everything or _orphaned(volume, 0.0):
            dc.remove_volume(volume["name"])
    if reaped:
        logger.warning("reaped %d orphaned sandbox containers: %s", len(reaped), reaped)
    return reaped


def _orphaned(labelled: dict[str, str], deadline_file: float) -> bool:
    """Whether a container's or volume's deadline passed or its owner is gone."""
    owner_host, _, owner_pid = labelled.get("label:unlearn.owner", ":").partition(":")
    deadline = max(float(labelled.get("label:unlearn.deadline", "0") or 0), deadline_file)
    alive = (
        owner_host != socket.gethostname() or not owner_pid.isdigit() or _pid_alive(int(owner_pid))
    )
    return not alive or deadline < time.time()


def _deadline_file(job_dir: Path) -> float:
    """The deadline run() wrote for the job a container was handed (0 if none)."""
    try:
        return float((job_dir / DEADLINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
