"""The evaluation pipeline: Celery tasks that take a submission from upload to leaderboard.

Flow (data-flow order of the modules):
    config.py          PipelineSettings: the server's settings + broker, store, timing
    celery_app.py      the Celery app: late acks, prefetch 1, visibility timeout, queues, beat
    queue.py           CeleryQueue: what the API calls after committing an upload
    server.py          the API wired to CeleryQueue and the shared artifact store
    artifacts.py       ArtifactStore: bytes under keys behind a file:// or fsspec URL
    models.py          evaluation_leases, shard_runs (the database holds the truth)
    leases.py          claim, heartbeat, attempt fencing
    backend.py         EvaluationBackend + ShardArrays (what a shard returns: arrays, not weights)
    harness_backend.py the production backend (harness.pipeline's steps, shard by shard)
    phases.py          server phase -> PhaseConfig; the reference cache in the store
    tasks/             provision, dispatch, execute, score, reconcile, cleanup
    reconcile.py       what is stuck and what to re-send
    recovery.py        retry as attempt + 1, or fail as a system error
    cli.py             `unlearn worker`, `unlearn beat`, `unlearn prepare-phase`
Deployment: docs/deploy.md.
"""

__all__: list[str] = []
