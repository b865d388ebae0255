"""The ``unlearn`` command line (console script ``unlearn = harness.cli:app``).

Each command lives in its own ``cli_<name>.py`` module and is registered here.
"""

from __future__ import annotations

import typer

from harness.cli_score import score

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Run and score machine-unlearning challenges.")


@app.callback()
def main() -> None:
    """Run and score machine-unlearning challenges."""


app.command("score")(score)


if __name__ == "__main__":
    app()
