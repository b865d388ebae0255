"""The `unlearn` command line (console script `unlearn = harness.cli:app`).

Each command lives beside the code it drives and is only registered here:

    unlearn dry-run SUBMISSION.py     harness/cli_dryrun.py   evaluate locally, end to end
    unlearn score --unlearned U.npy   harness/cli_score.py    score confidence matrices
    unlearn serve                     api/cli.py              the competition server
    unlearn admin create-organizer    api/cli.py              bootstrap the first organizer
    unlearn worker / beat / prepare-phase
                                      worker/cli.py           Celery evaluation workers
    unlearn login / submit / status / leaderboard
                                      harness/cli_participant.py   a participant's client
"""

from __future__ import annotations

import typer

from api.cli import admin_app, serve
from harness.cli_dryrun import dry_run
from harness.cli_participant import leaderboard, login, status, submit
from harness.cli_score import score
from worker.cli import beat, prepare_phase, worker

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Run and score machine-unlearning challenges.")


@app.callback()
def main() -> None:
    """Run and score machine-unlearning challenges."""


app.command("dry-run")(dry_run)
app.command("score")(score)
app.command("serve")(serve)
app.add_typer(admin_app, name="admin")
app.command("worker")(worker)
app.command("beat")(beat)
app.command("prepare-phase")(prepare_phase)
app.command("login")(login)
app.command("submit")(submit)
app.command("status")(status)
app.command("leaderboard")(leaderboard)


if __name__ == "__main__":
    app()
