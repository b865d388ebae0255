"""`unlearn metric-lab`: how faithful and how robust each metric is on a phase.

    unlearn metric-lab [--dataset mnist1d] [--replicas 16] [--epochs N] [--phase-file F]
                       [--models 16] [--ensemble 8] [--trials 16] [--relearn-steps K]
                       [--out DIR] [--plot] [--json]

For every estimator and secondary metric: the AUC with which it tells the phase's original
models (scored as if they were an unlearned submission) from retrained replicas held out
from the reference, as trained, after K relearning steps on the forget set and after 8-bit
quantisation (`harness.lab`; the protocol is in docs/scoring.md, "Metric lab"). Prints a
table, writes DIR/metric_lab.json, and DIR/metric_lab.png with --plot. Exits 2 on a
configuration error. Registered on `unlearn.cli.app` as the command "metric-lab".
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from harness.errors import ConfigError
from unlearn.dry_run import COLUMNS, DEFAULT_CACHE_DIR

__all__ = ["metric_lab"]

STAGES = {
    "lab-probes": "relearning and quantising both populations",
    "lab-trials": "trials (every metric on both populations)",
    "held-out": "training held-out retrained replicas (model-epochs)",
}


def _phase(options: dict[str, Any], phase_file: Path | None, epochs: int | None) -> Any:
    from harness.phase_schema import read_phase_file, validate_phase

    phase = read_phase_file(phase_file) if phase_file is not None else validate_phase(options)
    if epochs is not None:
        raw = phase.to_dict()
        raw["recipe"] = {"preset": "cpu-default", **raw["recipe"], "epochs": epochs}
        phase = validate_phase(raw)
    return phase


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def metric_lab(
    dataset: Annotated[str, typer.Option(help="mnist1d (embedded default), digits, ...")] = (
        "mnist1d"
    ),
    data_path: Annotated[Path | None, typer.Option(help="folder for cifar10 or folder")] = None,
    model: Annotated[str, typer.Option(help="architecture: mlp, cnn, resnet18, ...")] = "mlp",
    epochs: Annotated[int | None, typer.Option(help="override the recipe's epochs")] = None,
    replicas: Annotated[int, typer.Option(help="the phase's retrained reference models")] = 16,
    forget_fraction: Annotated[float, typer.Option(help="share of train to forget")] = 0.1,
    phase_file: Annotated[Path | None, typer.Option(help="a phase file instead")] = None,
    split: Annotated[str, typer.Option(help="dev, public or private (harness seeds)")] = "dev",
    models: Annotated[int, typer.Option(help="originals and held-out replicas each")] = 16,
    ensemble: Annotated[int, typer.Option(help="models a side per comparison")] = 8,
    trials: Annotated[int, typer.Option(help="random draws of ensembles")] = 16,
    relearn_steps: Annotated[
        int | None, typer.Option(help="relearning steps (default: one pass over forget)")
    ] = None,
    seed: Annotated[int, typer.Option(help="draws and estimator seeds")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    cache_dir: Annotated[Path, typer.Option(help="the reference and originals cache")] = (
        DEFAULT_CACHE_DIR
    ),
    out: Annotated[Path, typer.Option(help="folder for metric_lab.json (and .png)")] = Path(
        "runs/metric-lab"
    ),
    plot: Annotated[bool, typer.Option(help="also write metric_lab.png")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON result")] = False,
) -> None:
    """Faithfulness and robustness of every estimator and secondary metric on a phase."""
    logging.basicConfig(level=logging.WARNING)
    console = Console(stderr=as_json)
    try:
        phase = _phase(
            {
                "dataset": {"kind": dataset, "path": str(data_path) if data_path else None},
                "model": model,
                "replicas": replicas,
                "split": {"forget_fraction": forget_fraction},
            },
            phase_file,
            epochs,
        )
        if split not in ("dev", "public", "private"):
            raise ConfigError(f"--split must be dev, public or private; got {split!r}")
        for name, value in (("models", models), ("ensemble", ensemble), ("trials", trials)):
            if value < 1:
                raise ConfigError(f"--{name} must be at least 1; got {value}")
        from harness.lab import metric_lab as run_lab

        with Progress(*COLUMNS, console=console) as progress:
            tasks: dict[str, Any] = {}

            def bars(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(STAGES.get(stage, stage), total=total)
                progress.update(tasks[stage], completed=done, total=total)

            result = run_lab(
                phase,
                cache_dir=cache_dir,
                split=split,  # type: ignore[arg-type]
                models=models,
                ensemble=ensemble,
                trials=trials,
                steps=relearn_steps,
                seed=seed,
                device=device,
                progress=bars,
            )
    except (ConfigError, ValueError) as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "metric_lab.json").write_text(json.dumps(result, indent=2))
    if plot:
        from harness.lab.plot import write_lab_plot

        write_lab_plot(result, out / "metric_lab.png")
    if as_json:
        typer.echo(json.dumps(result["table"], indent=2))
        return
    table = Table(
        title=f"metric lab: {phase.dataset.kind}, {result['ensemble']} models a side, "
        f"{result['trials']} trials, relearning {result['relearn_steps']} steps"
    )
    for column in (
        "metric",
        "faithfulness",
        "relearn",
        "8-bit",
        "robustness",
        "overall",
        "originals",
        "held-out",
    ):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in result["table"]:
        table.add_row(
            row["label"],
            *(
                _number(row[key])
                for key in (
                    "faithfulness",
                    "relearn",
                    "quantize",
                    "robustness",
                    "overall",
                    "original_mean",
                    "held_out_mean",
                )
            ),
        )
    console.print(table)
    console.print(
        "AUCs: 1 = the metric always rates the originals worse than held-out retrained "
        "models, 0.5 = chance. originals / held-out: mean badness as trained "
        f"(see docs/scoring.md). {result['seconds']:.0f} s; {out / 'metric_lab.json'}"
        + (f", {out / 'metric_lab.png'}" if plot else "")
    )
