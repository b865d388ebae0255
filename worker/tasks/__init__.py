"""Celery tasks of the evaluation pipeline, one job per module, in data-flow order.

    provision.prepare_phase      train one split's original and N references; ready or failed
    provision.request_preparation  the API's request: send both splits to the training queue
    dispatch.start_evaluation    claim a queued submission of a ready phase, plan its shards
    execute.run_sanity           one cheap run before spending the N runs
    execute.run_shard            one sandbox container for a few seeds + trusted evaluation
    score.finish_evaluation      chord callback: score, store the result and plots
    reconcile.reconcile          beat: re-send what is stuck, fail what keeps failing
    cleanup.cleanup              beat: remove orphaned sandbox containers and old outputs
    freeze.freeze_boards         beat: freeze the private board of each ended phase

Every task takes ids as keyword arguments, checks the submission's state and attempt in the
database, does one step, records it, and only then enqueues the next step.
"""

__all__: list[str] = []
