"""The `unlearn` command and the server factory: the one place that wires the layers.

cli.py          the `unlearn` command: registers every sub-command
dry_run.py      `unlearn dry-run`: a participant's local evaluation (core only)
score.py        `unlearn score`: two confidence matrices -> forget quality
verify.py       `unlearn verify`: check an evaluation's record, recompute its score
record.py       the dry-run's record.zip
participant.py  `unlearn login/submit/status/leaderboard`: a participant's HTTP client
server.py       `unlearn serve` / `unlearn admin`, and `create_app()` (API + Celery queue)
"""

__all__: list[str] = []
