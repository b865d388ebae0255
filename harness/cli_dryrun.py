"""`unlearn dry-run`: evaluate a submission locally, with progress bars, a table and files.

    unlearn dry-run SUBMISSION.py [--dataset mnist1d] [--replicas 64] [--estimator ...]
                    [--device cpu|cuda] [--sandbox local|docker] [--out DIR]

Writes DIR/report.json and PNG plots; exits 0 when scored (even if the efficiency gate
fails: the table says so plainly), 1 when the submission failed, 2 on a configuration
error. Registered on `harness.cli.app` as the command "dry-run".
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

from harness.config import RECIPES, DatasetConfig, PhaseConfig
from harness.errors import ConfigError, SubmissionError

if TYPE_CHECKING:  # torch loads with the runner, not with the CLI (spawned workers import it)
    from harness.sandbox.base import Runner

__all__ = ["DEFAULT_CACHE_DIR", "dry_run", "make_runner"]

DEFAULT_CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unlearning-harness"
)

STAGE_LABELS = {
    "data": "loading data",
    "original": "training the original model (epochs)",
    "retrain-timing": "timing one retraining (epochs)",
    "reference": "training the retrained reference (model-epochs)",
    "reference-eval": "evaluating the reference models",
    "runs": "running unlearning() per seed",
    "evaluate": "evaluating the unlearned models",
    "score": "scoring (noise floor, then submission)",
    "bootstrap": "confidence intervals (bootstrap replicates)",
}


def make_runner(sandbox: str) -> Runner:
    """The Runner named `sandbox`: local (in process) or docker (imported only when asked)."""
    if sandbox == "local":
        from harness.sandbox.local import LocalRunner

        return LocalRunner()
    if sandbox == "docker":
        try:
            from harness.sandbox.docker import DockerRunner
        except ImportError as exc:
            raise ConfigError(f"the docker sandbox is not available: {exc}") from None
        return DockerRunner()
    raise ConfigError(f"--sandbox must be 'local' or 'docker', got {sandbox!r}")


class _Bars:
    """One rich progress bar per stage, created when the stage first reports."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def dry_run(
    submission: Annotated[Path, typer.Argument(help="a .py file or a folder with submission.py")],
    dataset: Annotated[
        str, typer.Option(help="mnist1d (embedded default), digits, mnist5k, cifar10, folder")
    ] = "mnist1d",
    data_path: Annotated[
        Path | None, typer.Option(help="local folder for --dataset cifar10 or folder")
    ] = None,
    model: Annotated[str, typer.Option(help="architecture: mlp, cnn, resnet18")] = "mlp",
    recipe: Annotated[str, typer.Option(help="training preset: cpu-default, competition")] = (
        "cpu-default"
    ),
    epochs: Annotated[
        int | None, typer.Option(help="override the recipe's training epochs")
    ] = None,
    replicas: Annotated[int, typer.Option(help="models per side (runs and retrained)")] = 64,
    estimator: Annotated[str, typer.Option(help="neurips2023 or calibrated")] = "neurips2023",
    split: Annotated[str, typer.Option(help="public or private forget split")] = "public",
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    sandbox: Annotated[str, typer.Option(help="local (in process) or docker")] = "local",
    threads: Annotated[int, typer.Option(help="torch threads per run")] = 1,
    max_run_fraction: Annotated[
        float, typer.Option(help="efficiency gate: largest run time / one retraining")
    ] = 0.2,
    cache_dir: Annotated[
        Path, typer.Option(help="where the original model and the reference are kept")
    ] = DEFAULT_CACHE_DIR,
    out: Annotated[Path, typer.Option(help="folder for report.json and the plots")] = Path(
        "runs/dry-run"
    ),
) -> None:
    """Evaluate SUBMISSION on a phase, locally, and write a report with plots."""
    from harness.dryrun import dry_run as run_dry_run
    from harness.plots import write_plots
    from harness.report import failure_report, summary_rows, write_report

    logging.basicConfig(level=logging.WARNING)
    console = Console()
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            console.print("[red]--device cuda asked, but torch sees no CUDA device[/red]")
            raise typer.Exit(2)
    try:
        if recipe not in RECIPES:
            raise ConfigError(f"unknown recipe {recipe!r}; presets: {', '.join(RECIPES)}")
        chosen = RECIPES[recipe]
        if epochs is not None:
            chosen = dataclasses.replace(chosen, epochs=epochs)
        phase = PhaseConfig(
            dataset=DatasetConfig(dataset, str(data_path) if data_path else None),
            model=model,
            recipe=chosen,
            replicas=replicas,
            max_run_fraction=max_run_fraction,
            estimator=estimator,
        )
        runner = make_runner(sandbox)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            report, prepared, unlearned, result = run_dry_run(
                submission,
                phase,
                runner=runner,
                cache_dir=cache_dir,
                split=split,  # type: ignore[arg-type]
                device=device,
                threads=threads,
                progress=_Bars(progress),
            )
    except SubmissionError as error:
        write_report(failure_report(error, submission=submission), out)
        console.print(
            Panel(
                f"{error.message}\n\n{error.log_excerpt}".rstrip(),
                title=f"submission failed ({error.category})",
                border_style="red",
            )
        )
        console.print(f"report: {out / 'report.json'}")
        raise typer.Exit(1) from None
    except ConfigError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None

    write_report(report, out)
    plots = write_plots(
        out,
        epsilons=report["epsilons"],
        unlearned=unlearned,
        retrained=prepared.reference.evaluation,
    )
    table = Table(title=f"dry-run of {submission}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary_rows(report):
        table.add_row(label, value)
    console.print(table)
    if not report["eligible"]:
        console.print(f"[bold red]{report['efficiency']['message']}[/bold red]")
    console.print(f"report: {out / 'report.json'}; plots: {', '.join(p.name for p in plots)}")
