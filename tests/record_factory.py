"""A small synthetic evaluation record (`harness.report.record`), scored for real.

N=8 runs against 8 reference models on 20 forget examples of random confidences; the
score is `score_submission`'s with 20 bootstrap replicates, so `unlearn verify` recomputes
it in well under a second. `extra_runs` adds failed runs (a timeout, a crash) beside them.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from harness.evaluate import Evaluation, score_evaluations
from harness.phase import PhaseConfig
from harness.report.record import Record, RunEntry, build_record

__all__ = ["synthetic_record"]

N_MODELS, N_EXAMPLES, N_CLASSES = 8, 20, 3


def _evaluation(rng: np.random.Generator, shift: float) -> Evaluation:
    n, s = N_MODELS, N_EXAMPLES
    return Evaluation(
        forget_logits=rng.normal(shift, 1.0, size=(n, s, N_CLASSES)).astype(np.float32),
        forget_confs=rng.normal(shift, 1.0, size=(n, s)),
        retain_acc=rng.uniform(0.8, 0.9, n),
        forget_acc=rng.uniform(0.8, 0.9, n),
        test_acc=rng.uniform(0.7, 0.8, n),
    )


def synthetic_record(
    *,
    split: str = "public",
    extra_runs: tuple[tuple[int, RunEntry], ...] = (),
    originals: int = 1,
) -> Record:
    """An unsigned server record of `split`; `extra_runs`: (position, failed run) inserts;
    `originals`: K, run i started from original i mod K (the bootstrap resamples them)."""
    rng = np.random.default_rng(0)
    unlearned, reference = _evaluation(rng, 0.3), _evaluation(rng, 0.0)
    result = score_evaluations(
        unlearned,
        reference,
        n_bootstrap=20,
        originals=np.arange(N_MODELS) % originals if originals > 1 else None,
    )
    ids = np.arange(10, dtype=np.int64)
    prepared = SimpleNamespace(
        phase=PhaseConfig(replicas=N_MODELS),
        splits=SimpleNamespace(split=split, train=ids, val=ids, test=ids, forget=ids, retain=ids),
        reference=SimpleNamespace(key="k" * 64, evaluation=reference),
    )
    runs = [RunEntry(seed, "ok", 1.0) for seed in range(N_MODELS)]
    for position, run in extra_runs:
        runs.insert(position, run)
    return build_record(
        prepared=prepared,
        runs=runs,
        unlearned=unlearned,
        result=result,
        submission_sha="0" * 64,
        sandbox={"runner": "docker", "image_id": "sha256:abc"},
        kind="server",
    )
