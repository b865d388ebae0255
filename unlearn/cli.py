"""The `unlearn` command line (console script `unlearn = unlearn.cli:app`).

Each command lives beside the code it drives and is only registered here:

    unlearn dry-run SUBMISSION.py     unlearn/dry_run.py   evaluate locally, end to end
    unlearn score --unlearned U.npy   unlearn/score.py    score confidence matrices
    unlearn verify RECORD.zip         unlearn/verify.py   check a record, recompute its score
    unlearn metric-lab                unlearn/metric_lab.py  how faithful each metric is
    unlearn serve                     unlearn/server.py              the competition server
    unlearn admin create-organizer    unlearn/server.py              bootstrap the first organizer
    unlearn worker / beat / prepare-phase
                                      worker/cli.py           Celery evaluation workers
    unlearn login / submit / status / leaderboard
                                      unlearn/participant.py   a participant's client
"""

from __future__ import annotations

import typer

from unlearn.dry_run import dry_run
from unlearn.metric_lab import metric_lab
from unlearn.participant import leaderboard, login, status, submit
from unlearn.score import score
from unlearn.server import admin_app, serve
from unlearn.verify import verify
from worker.cli import beat, prepare_phase, worker

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Run and score machine-unlearning challenges.")


@app.callback()
def main() -> None:
    """Run and score machine-unlearning challenges."""


app.command("dry-run")(dry_run)
app.command("score")(score)
app.command("verify")(verify)
app.command("metric-lab")(metric_lab)
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
