"""Bootstrap intervals of the dry-run: one process against worker processes, same numbers.

    PYTHONPATH=. python bench/bench_bootstrap.py [--models 64] [--examples 400]
        [--replicates 200] [--estimator neurips2023] [--processes N]

Input: the dry-run's shapes on the embedded default (64 models per side, 400 forget
examples), synthetic confidences with a small shift (a half-unlearned submission, so the
estimator does real work on every column). Scores the same submission with
`score_submission` twice, `processes=1` and `processes=N` (default: this machine's CPUs,
at most 8, as the dry-run uses), checks that both intervals are identical, and prints both
wall times and their ratio. The pool's start-up (spawned processes importing numpy and
scipy) is inside the timed figure.

Measured on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md "## Evaluation core".
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from harness.score import score_submission
from harness.scoring.report import bootstrap_processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--estimator", default="neurips2023")
    parser.add_argument("--processes", type=int, default=bootstrap_processes())
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.models
    inputs = dict(
        unlearned_confs=rng.normal(0.3, 1.0, size=(n, args.examples)),
        retrained_confs=rng.normal(0.0, 1.0, size=(n, args.examples)),
        unlearned_retain_acc=rng.uniform(0.85, 0.95, n),
        retrained_retain_acc=rng.uniform(0.90, 1.00, n),
        unlearned_test_acc=rng.uniform(0.55, 0.65, n),
        retrained_test_acc=rng.uniform(0.60, 0.70, n),
        estimator=args.estimator,
        n_bootstrap=args.replicates,
        noise_floor=0.0,  # not what is measured here
    )
    timings = {}
    reports = {}
    for processes in (1, args.processes):
        started = time.perf_counter()
        reports[processes] = score_submission(**inputs, processes=processes)
        timings[processes] = time.perf_counter() - started
    serial, pooled = reports[1], reports[args.processes]
    assert serial.final_score_ci == pooled.final_score_ci, "the pool changed the numbers"
    assert serial.forget_quality_ci == pooled.forget_quality_ci
    ratio = timings[1] / timings[args.processes]
    print(
        f"{args.estimator}, {n} models x {args.examples} examples, {args.replicates} "
        f"replicates: 1 process {timings[1]:.1f} s, {args.processes} processes "
        f"{timings[args.processes]:.1f} s = {ratio:.2f}x faster, identical intervals"
    )
    print(
        json.dumps(
            {
                "serial_s": round(timings[1], 2),
                "processes": args.processes,
                "pooled_s": round(timings[args.processes], 2),
                "speedup": round(ratio, 2),
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
