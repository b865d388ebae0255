"""`unlearn dry-run`: evaluate a submission locally, with progress bars, a table and files.

    unlearn dry-run SUBMISSION.py [--dataset mnist1d] [--replicas 64] [--estimator ...]
                    [--originals K]
                    [--interface tuple|kaggle2023] [--device cpu|cuda]
                    [--sandbox local|docker] [--out DIR] [--plots]
    unlearn dry-run SUBMISSION.py --phase ID [--server URL]    the server's phase, exactly
    unlearn dry-run SUBMISSION.py --phase-file phase.toml      the same, without a server
    unlearn dry-run SUBMISSION.py --preset competition-fast --dataset folder --data-path D

Every phase, from options, a file or the server, goes through the one phase schema
(`harness.phase_schema`): a bad field is a configuration error naming the field and the
choices, and too few replicas for the estimator are refused before any training.

Writes DIR/report.json, and PNG plots with --plots (matplotlib and three figures cost
seconds that a first score need not wait for); exits 0 when scored (even if the efficiency gate
fails: the table says so plainly), 1 when the submission failed, 2 on a configuration
error. Registered on `unlearn.cli.app` as the command "dry-run".
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from harness.errors import ConfigError, SubmissionError
from harness.phase import DEFAULT_PRESET, RECIPES, PhaseConfig
from harness.presets import PHASE_PRESETS
from harness.registry import DATASETS, INTERFACES, MODELS
from harness.scoring.estimators import ESTIMATORS

if TYPE_CHECKING:  # torch loads with the runner, not with the CLI (spawned workers import it)
    from harness.runs.sandbox.base import Runner

__all__ = ["DEFAULT_CACHE_DIR", "dry_run", "local_processes", "make_runner"]

DEFAULT_CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unlearning-harness"
)

STAGE_LABELS = {
    "data": "loading data",
    "original": "training the original model (epochs)",
    "originals": "training the other originals (model-epochs)",
    "retrain-timing": "timing one retraining (epochs)",
    "reference": "training the retrained reference (model-epochs)",
    "reference-eval": "evaluating the reference models",
    "runs": "running unlearning() per seed",
    "evaluate": "evaluating the unlearned models",
    "score": "scoring (noise floor, then submission)",
    "bootstrap": "confidence intervals (bootstrap replicates)",
    "report": "attacks beside the score, the report",
}
LOADING = "loading torch and the harness"
COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
)


def local_processes(threads: int) -> int:
    """Forked processes for the local runner: the usable CPUs shared at `threads` each."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, threads))


def make_runner(sandbox: str, *, processes: int = 1) -> Runner:
    """The Runner named `sandbox`: local (in process, its seeds shared among `processes`
    forks) or docker (imported only when asked)."""
    if sandbox == "local":
        from harness.runs.sandbox.local import LocalRunner

        return LocalRunner(processes=processes)
    if sandbox == "docker":
        try:
            from harness.runs.sandbox.docker import DockerRunner
            from harness.runs.sandbox.docker_client import SandboxSettings
        except ImportError as exc:
            raise ConfigError(f"the docker sandbox is not available: {exc}") from None
        image = os.environ.get("UNLEARN_SANDBOX__IMAGE")  # the worker's variable, too
        return DockerRunner(SandboxSettings(image=image) if image else None)
    raise ConfigError(f"--sandbox must be 'local' or 'docker', got {sandbox!r}")


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) while the dry-run runs, as Ctrl-C is
    KeyboardInterrupt: both unwind through the runner's clean-up (container, holder, volume,
    job folder) and the interpreter's exit handlers (a standby container) instead of leaving
    them running. The previous handler is restored afterwards (the CLI may run in process)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Bars:
    """One rich progress bar per stage, created when the stage first reports."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _phase(
    *,
    phase_id: int | None,
    server: str | None,
    phase_file: Path | None,
    options: dict[str, Any],
    replicas: int | None,
    epochs: int | None,
) -> PhaseConfig:
    """The phase to run: the server's, a file's, or the options', checked by one schema
    (options left out, None, take the phase model's defaults)."""
    from harness.phase_schema import public_phase, read_phase_file, validate_phase

    if phase_id is not None and phase_file is not None:
        raise ConfigError("give --phase or --phase-file, not both")
    if phase_id is not None:
        from unlearn.participant import fetch_phase

        phase = public_phase(fetch_phase(phase_id, server=server))
    elif phase_file is not None:
        phase = read_phase_file(phase_file)
    else:
        given = {name: value for name, value in options.items() if value is not None}
        phase = validate_phase({**given, "replicas": replicas} if replicas else given)
        replicas = None
    changes: dict[str, Any] = {}
    if replicas is not None:
        changes["replicas"] = replicas
    if epochs is not None:
        changes["recipe"] = {**phase.recipe.model_dump(), "epochs": epochs}
    if changes:  # re-validated: fewer replicas than the estimator needs are refused here too
        phase = validate_phase({**phase.to_dict(), **changes})
    return phase


# Each option's help names the registries' entries, and its default is the phase model's.
DEFAULTS = PhaseConfig()


def _one_of(names: Any, default: str) -> str:
    return f"one of {', '.join(names)} (default {default})"


def dry_run(
    submission: Annotated[Path, typer.Argument(help="a .py file or a folder with submission.py")],
    preset: Annotated[
        str | None,
        typer.Option(
            help="start from a phase preset: one of "
            + ", ".join(PHASE_PRESETS)
            + " (the options below change it, as a server phase's fields do)"
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="data set: " + _one_of(DATASETS, DEFAULTS.dataset.kind))
    ] = None,
    data_path: Annotated[
        Path | None,
        typer.Option(
            help="local folder, for a data set that reads one: "
            + ", ".join(kind for kind, entry in DATASETS.items() if entry.needs_path)
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="architecture: " + _one_of(MODELS, DEFAULTS.model))
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="training preset: " + _one_of(RECIPES, DEFAULT_PRESET))
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="override the recipe's training epochs")
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(help=f"models per side (runs and retrained); default {DEFAULTS.replicas}"),
    ] = None,
    estimator: Annotated[
        str | None, typer.Option(help=_one_of(ESTIMATORS, DEFAULTS.estimator))
    ] = None,
    originals: Annotated[
        int | None,
        typer.Option(help="original models K; run i unlearns from original i mod K (default 1)"),
    ] = None,
    forget_fraction: Annotated[
        float | None,
        typer.Option(
            help="share of the train split to forget (a phase's split_spec); default "
            f"{DEFAULTS.split.forget_fraction}"
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="dev: the published development split; public or private here use the "
            "harness's default seeds, never the server's leaderboard splits"
        ),
    ] = "dev",
    dev_seed: Annotated[
        int | None, typer.Option(help="the phase's published `dev_seed` (its split_spec)")
    ] = None,
    interface: Annotated[
        str | None,
        typer.Option(
            help="batches submissions receive: " + _one_of(INTERFACES, DEFAULTS.interface)
        ),
    ] = None,
    phase_id: Annotated[
        int | None,
        typer.Option("--phase", help="run exactly the server's phase ID (its dev split)"),
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="server root for --phase; default UNLEARN_URL or saved")
    ] = None,
    phase_file: Annotated[
        Path | None, typer.Option(help="a phase file (TOML, or the JSON of a server phase)")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    sandbox: Annotated[str, typer.Option(help="local (in process) or docker")] = "local",
    threads: Annotated[int, typer.Option(help="torch threads per run")] = 1,
    processes: Annotated[
        int | None,
        typer.Option(help="local sandbox: runs side by side (default: CPUs / threads)"),
    ] = None,
    max_run_fraction: Annotated[
        float | None,
        typer.Option(
            help=f"{PhaseConfig.model_fields['max_run_fraction'].description}; default "
            f"{DEFAULTS.max_run_fraction}"
        ),
    ] = None,
    cache_dir: Annotated[
        Path, typer.Option(help="where the original model and the reference are kept")
    ] = DEFAULT_CACHE_DIR,
    out: Annotated[Path, typer.Option(help="folder for report.json and the plots")] = Path(
        "runs/dry-run"
    ),
    plots: Annotated[
        bool, typer.Option(help="also write PNG plots (epsilons, worst examples, accuracies)")
    ] = False,
) -> None:
    """Evaluate SUBMISSION on a phase, locally, and write a report (and plots on request)."""
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    # torch and the evaluation core load under a bar of their own: the seconds before the
    # first stage are part of the command as typed, and would look like a hang.
    with Progress(*COLUMNS, console=console) as loading:
        task = loading.add_task(LOADING, total=1)
        import harness.pipeline  # noqa: F401

        loading.update(task, completed=1)
    from unlearn.record import RecordedRuns

    seen = RecordedRuns()  # every run's outcome, for the record
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            console.print("[red]--device cuda asked, but torch sees no CUDA device[/red]")
            raise typer.Exit(2)
    try:
        phase = _phase(
            phase_id=phase_id,
            server=server,
            phase_file=phase_file,
            options={
                "preset": preset,
                "dataset": None
                if dataset is None and data_path is None
                else {
                    "kind": dataset or DEFAULTS.dataset.kind,
                    "path": data_path and str(data_path),
                },
                "model": model,
                "recipe": recipe,
                "max_run_fraction": max_run_fraction,
                "estimator": estimator,
                "originals": originals,
                "interface": interface,
                "split": {
                    name: value
                    for name, value in (
                        ("forget_fraction", forget_fraction),
                        ("dev_seed", dev_seed),
                    )
                    if value is not None
                },
            },
            replicas=replicas,
            epochs=epochs,
        )
        console.print(
            f"phase: {phase.dataset.kind}, {phase.model}, {phase.replicas} replicas, "
            f"estimator {phase.estimator}, interface {phase.interface}"
        )
        if phase_id is not None and split != "dev":
            raise ConfigError(
                "a server's phase dry-runs on its published development split only (--split "
                "dev): its leaderboard splits' seeds never leave the server"
            )
        if processes is not None and processes < 1:
            raise ConfigError(f"--processes must be at least 1; got {processes}")
        runner = make_runner(
            sandbox, processes=processes if processes is not None else local_processes(threads)
        )
        from harness.pipeline import dry_run as run_dry_run

        with _exit_on_sigterm(), Progress(*COLUMNS, console=console) as progress:
            report, prepared, unlearned, result = run_dry_run(
                submission,
                phase,
                runner=runner,
                cache_dir=cache_dir,
                split=split,  # type: ignore[arg-type]
                device=device,
                threads=threads,
                progress=_Bars(progress),
                on_runs=seen,
            )
    except SubmissionError as error:
        from harness.report.build import failure_report, write_report

        write_report(failure_report(error, submission=submission), out)
        record = seen.write(out, submission=submission, runner=runner, failure=error)
        console.print(
            Panel(
                f"{error.message}\n\n{error.log_excerpt}".rstrip(),
                title=f"submission failed ({error.category})",
                border_style="red",
            )
        )
        console.print(f"report: {out / 'report.json'}" + (f"; record: {record}" if record else ""))
        raise typer.Exit(1) from None
    except ConfigError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None

    from harness.report.build import summary_rows, write_report

    write_report(report, out)
    written: list[Path] = []
    if plots:  # matplotlib and three figures: seconds a first score need not wait for
        from harness.report.plots import write_plots

        written = write_plots(
            out,
            epsilons=result.epsilons,
            unlearned=unlearned,
            retrained=prepared.reference.evaluation,
        )
    table = Table(title=f"dry-run of {submission}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary_rows(report):
        table.add_row(label, value)
    console.print(table)
    if report.efficiency is not None and not report.efficiency.passed:
        console.print(
            f"[bold red]FAILS the efficiency gate: {report.efficiency.verdict()}[/bold red]"
        )
    if written:
        console.print(f"report: {out / 'report.json'}; plots: {', '.join(p.name for p in written)}")
    else:
        console.print(f"report: {out / 'report.json'} (add --plots for PNG plots)")
    record = seen.write(
        out, submission=submission, runner=runner, unlearned=unlearned, result=result
    )
    console.print(f"record: {record} (check it with `unlearn verify {record}`)")
