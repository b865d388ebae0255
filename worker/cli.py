"""`unlearn worker` and `unlearn beat`: start an evaluation worker or the scheduler.

    unlearn worker                  CPU worker on the control and cpu queues
    unlearn worker --gpu 0          one worker process for GPU 0 on the gpu queue; start one
                                    per GPU (`--gpu 1`, ...): each shard's container gets
                                    exactly that GPU
    unlearn beat                    the periodic reconciler and cleanup (run exactly one)
    unlearn prepare-phase 3         train phase 3's original and references on the workers
                                    (both splits side by side), showing progress

Broker, database and store come from `UNLEARN_*` settings (see `worker.config`); with none
set, everything runs on SQLite files under `UNLEARN_DATA_DIR`, no Redis needed.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

__all__ = ["beat", "prepare_phase", "worker"]


def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = "control,cpu",
    gpu: Annotated[
        str | None, typer.Option(help="GPU index or UUID this process owns; implies --queues gpu")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="processes; keep 1 per GPU")] = 1,
    name: Annotated[str | None, typer.Option(help="worker node name")] = None,
    loglevel: Annotated[str, typer.Option()] = "info",
) -> None:
    """Start a Celery worker that evaluates submissions."""
    if gpu is not None:
        # Set before the app and its settings load, so every child process sees its GPU.
        os.environ["UNLEARN_WORKER_GPU"] = gpu
        os.environ["UNLEARN_DEVICE"] = "cuda"
        queues = "gpu"
        concurrency = 1
    from worker.celery_app import app

    node = name or (f"gpu{gpu}@{socket.gethostname()}" if gpu is not None else None)
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-l", loglevel, "-O", "fair"]
    argv += ["--prefetch-multiplier", "1"]
    if node:
        argv += ["-n", node]
    app.worker_main(argv)


def beat(loglevel: Annotated[str, typer.Option()] = "info") -> None:
    """Start the scheduler that sends the reconciler and cleanup; run exactly one per system."""
    from worker.celery_app import app
    from worker.config import PipelineSettings

    settings = PipelineSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    schedule = settings.data_dir / "celerybeat-schedule"
    app.start(["beat", "-l", loglevel, "-s", str(schedule)])


def prepare_phase(
    phase_id: Annotated[int, typer.Argument(help="the phase's id on the server")],
    wait: Annotated[bool, typer.Option(help="wait and show progress until both are done")] = True,
) -> None:
    """Train a phase's original model and N references (both splits) before it opens."""
    import time

    from worker.tasks.provision import provision

    result = provision(phase_id)
    typer.echo(f"sent: {', '.join(child.id for child in result.results)}")
    while wait and not result.ready():
        states = [
            f"{child.state}{' ' + str(child.info) if child.state == 'PROGRESS' else ''}"
            for child in result.results
        ]
        typer.echo(" | ".join(states))
        time.sleep(5)
    if wait:
        for outcome in result.get(propagate=True):
            typer.echo(outcome)
