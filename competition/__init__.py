"""What the server and the workers both own: the database and the rules on its rows.

    settings.py         Settings (server) and PipelineSettings (broker, store, timing)
    models.py           tables and the submission state machine (`transition`)
    pipeline_models.py  evaluation leases and shard rows
    db.py, alembic/     engine, sessions, migrations
    errors.py           refusals of the data layer
    records.py          loading a phase or a submission, the row lock
    quota.py            daily quota and in-flight cap
    lifecycle.py        the status changes an evaluation makes (attempt-fenced)
    artifacts.py        the one artifact store (bytes under keys, any fsspec URL)
    queue.py            EvaluationQueue: how an upload reaches the workers
    leaderboard.py      the boards' rules: best public per team, final picks, ties
    snapshots.py        the private board frozen as of a phase's end
    preparation.py      a phase's readiness: its reference models per split
    logs.py, run_logs.py  logging set-up; a run's output as the team's logs

Depends on the evaluation core (`harness`) at most; never on `api` or `worker`.
"""

__all__: list[str] = []
