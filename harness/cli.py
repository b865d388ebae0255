"""The `unlearn` command line (entry point `harness.cli:app`)."""

from __future__ import annotations

import typer

from harness.cli_dryrun import dry_run

app = typer.Typer(no_args_is_help=True)


@app.callback()
def main() -> None:
    """Evaluate machine-unlearning submissions the way a competition does."""


app.command("dry-run")(dry_run)
