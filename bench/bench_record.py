"""Size of an evaluation record and the time to verify it, at a phase's shapes.

    PYTHONPATH=. python bench/bench_record.py [--models 64] [--examples 400] [--classes 10]
        [--replicates 200] [--estimator neurips2023]

Input: synthetic evaluations of the given shapes (N models per side, S forget examples,
K classes, T = S test losses; confidences with a small shift, so the estimator does real
work), scored with `score_submission` (the bootstrap of `--replicates`, processes as the
dry-run uses them), then built into a signed record (`harness.report.record`) exactly as
the worker does. Measures: the record's bytes (zip of manifest + unlearned.npz +
reference.npz), the time to build and sign it, and `verify_record` with the key (every
check: signature, hashes, per-run hashes, the full score and its intervals recomputed),
whose time is the scorer's: recomputing is scoring again; and the same without the
bootstrap (`unlearn verify --skip-intervals`). The script fails unless the record verifies.
JSON last.

Measured on the 2-core x86_64 CPU, no GPU: see docs/scoring.md "## 9. The record".
"""

from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import numpy as np

from harness.evaluate import Evaluation, score_evaluations
from harness.phase import PhaseConfig
from harness.report.record import RunEntry, build_record, record_key
from harness.report.verify import passed, verify_record
from harness.scoring.submission import bootstrap_processes


def _evaluation(rng: np.random.Generator, n: int, s: int, k: int, shift: float) -> Evaluation:
    return Evaluation(
        forget_logits=rng.normal(shift, 1.0, size=(n, s, k)).astype(np.float32),
        forget_confs=rng.normal(shift, 1.0, size=(n, s)),
        retain_acc=rng.uniform(0.8, 0.9, n),
        forget_acc=rng.uniform(0.8, 0.9, n),
        test_acc=rng.uniform(0.7, 0.8, n),
        test_losses=rng.uniform(0.0, 3.0, size=(n, s)).astype(np.float32),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--estimator", default="neurips2023")
    args = parser.parse_args()
    n, s, k = args.models, args.examples, args.classes
    rng = np.random.default_rng(0)
    unlearned, reference = _evaluation(rng, n, s, k, 0.2), _evaluation(rng, n, s, k, 0.0)
    processes = bootstrap_processes()
    start = time.perf_counter()
    result = score_evaluations(
        unlearned,
        reference,
        estimator=args.estimator,
        n_bootstrap=args.replicates,
        processes=processes,
    )
    score_s = time.perf_counter() - start
    ids = np.arange(5 * s, dtype=np.int64)
    phase = PhaseConfig(replicas=n, estimator=args.estimator)
    prepared = SimpleNamespace(
        phase=phase,
        splits=SimpleNamespace(
            split="public", train=ids, val=ids, test=ids, forget=ids, retain=ids
        ),
        reference=SimpleNamespace(key="0" * 64, evaluation=reference),
    )
    key = record_key("a-server-secret-key-for-the-bench")
    start = time.perf_counter()
    record = build_record(
        prepared=prepared,
        runs=[RunEntry(seed, "ok", 1.0) for seed in range(n)],
        unlearned=unlearned,
        result=result,
        submission_sha="0" * 64,
        sandbox={"runner": "docker", "image_id": "sha256:" + "0" * 64},
        kind="server",
    ).signed(key)
    data = record.to_bytes()
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    checks = verify_record(data, key=key, processes=processes)
    verify_s = time.perf_counter() - start
    start = time.perf_counter()
    quick = verify_record(data, key=key, processes=processes, intervals=False)
    quick_s = time.perf_counter() - start
    for check in [*checks, quick[-1]]:
        print(f"{check.verdict:4} {check.name}: {check.detail}")
    if not (passed(checks) and passed(quick)):
        raise SystemExit("the record did not verify")
    print(
        json.dumps(
            {
                "models": n,
                "examples": s,
                "classes": k,
                "replicates": args.replicates,
                "estimator": args.estimator,
                "processes": processes,
                "record_bytes": len(data),
                "score_s": round(score_s, 2),
                "build_and_sign_s": round(build_s, 3),
                "verify_s": round(verify_s, 2),
                "verify_without_intervals_s": round(quick_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
