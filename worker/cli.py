"""`unlearn worker` and `unlearn beat`: start an evaluation worker or the scheduler.

    unlearn worker                  CPU worker on the control and cpu queues
    unlearn worker --gpu 0          one worker process for GPU 0 on the gpu queue; start one
                                    per GPU (`--gpu 1`, ...): each shard's container gets
                                    exactly that GPU
    unlearn beat                    the periodic reconciler and cleanup (run exactly one)
    unlearn prepare-phase 3         train phase 3's original and references on the workers
                                    (both splits side by side), showing progress

Broker, database and store come from `UNLEARN_*` settings (see `competition.settings`); with none
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
    from competition.settings import PipelineSettings
    from worker.celery_app import app

    settings = PipelineSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    schedule = settings.data_dir / "celerybeat-schedule"
    app.start(["beat", "-l", loglevel, "-s", str(schedule)])


def prepare_phase(
    phase_id: Annotated[int, typer.Argument(help="the phase's id on the server")],
    wait: Annotated[bool, typer.Option(help="wait and show progress until both are done")] = True,
    again: Annotated[
        bool, typer.Option(help="prepare again from scratch even when ready or in progress")
    ] = False,
    poll_seconds: Annotated[float, typer.Option(min=0.1, help="progress refresh")] = 2.0,
) -> None:
    """Train a phase's original model and N references (both splits) on the workers.

    A phase is sent for preparation when it is created; this shows how far it got, sends it
    again when it failed (after fixing the cause) or with --again, and exits 1 if it fails.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from competition import lifecycle, preparation
    from competition.pipeline_models import PreparationState
    from worker.context import get_context
    from worker.tasks.provision import provision, send_preparation

    sessions = get_context().sessions
    with sessions() as session:
        state = preparation.readiness(session, phase_id).state
    if again or state == PreparationState.FAILED:
        provision(phase_id)
    elif state != PreparationState.READY:
        send_preparation(phase_id)
    if not wait:
        typer.echo(f"phase {phase_id}: preparation sent")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TextColumn("{task.fields[stage]}")) as bars:
        tasks = {
            split: bars.add_task(f"{split} split", total=None, stage="")
            for split in lifecycle.SPLITS
        }
        while True:
            with sessions() as session:
                ready = preparation.readiness(session, phase_id)
            for split in ready.splits:
                stage = split.state.value + (f": {split.stage}" if split.stage else "")
                total = split.total or None
                bars.update(tasks[split.split], completed=split.done, total=total, stage=stage)
            if ready.state in (PreparationState.READY, PreparationState.FAILED):
                break
            time.sleep(poll_seconds)
    if ready.state == PreparationState.FAILED:
        typer.echo(f"phase {phase_id} cannot be prepared:\n{ready.error}", err=True)
        raise typer.Exit(1)
    seconds = ", ".join(f"{s.split} {s.retrain_seconds or 0:.1f} s" for s in ready.splits)
    typer.echo(f"phase {phase_id} ready (one retraining: {seconds})")
