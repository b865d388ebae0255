"""The evaluation pipeline: Celery tasks that take a submission from upload to leaderboard.

Flow (data-flow order of the modules):
    celery_app.py      the Celery app: late acks, prefetch 1, visibility timeout, queues, beat
    queue.py           CeleryQueue: what the API calls after committing an upload
    context.py         the worker's settings, database sessions, store and backend
    leases.py          claim, heartbeat, attempt fencing, the stage (public, then private)
    backend.py         EvaluationBackend + ShardArrays (what a shard returns: arrays, not weights)
    harness_backend.py the production backend (harness.pipeline's steps, shard by shard)
    phases.py          server phase -> PhaseConfig; the reference cache in the store
    record.py          a scored split's record (harness.report.record), signed and stored
    staging.py         a submission's code unpacked for a run
    racing.py          rounds of seeds on the public split
    tasks/             provision, dispatch, execute, score, reconcile, cleanup, freeze
    reconcile.py       what is stuck and what to re-send
    recovery.py        retry as attempt + 1, or fail as a system error
    cli.py             `unlearn worker`, `unlearn beat`, `unlearn prepare-phase`
Database rows: `competition.pipeline_models`; settings: `competition.settings`.
Deployment: docs/deploy.md.
"""

__all__: list[str] = []
