"""Bootstrap of the competition estimator: numpy path against the compiled kernel, side by side.

    PYTHONPATH=. python bench/bench_bootstrap.py [--models 64] [--examples 400]
        [--replicates 200] [--processes N]

Input: the dry-run's shapes on the embedded default (64 models per side, 400 forget
examples), synthetic confidences with a small shift (a half-unlearned submission, so the
estimator does real work on every column). The same `score_submission` call (neurips2023,
`processes=N`, default this machine's CPUs at most 8, as the dry-run uses) runs in two
fresh processes:

  old  numba hidden from the process: the numpy implementation, replicates in N spawned
       worker processes (what a dry-run did before the kernel);
  new  the compiled kernel (`harness.scoring.neurips2023_kernel`), replicates in N threads
       (the kernel runs without the GIL).

Both wall times cover the whole call (pool start-up included; the kernel loaded from numba's
disk cache, compiled first by an untimed call). The intervals and the epsilons must be
identical; the script fails otherwise. JSON last.

Measured on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md "## Evaluation core".
"""

from __future__ import annotations

import sys

if "--numpy-only" in sys.argv:  # before any harness import, and again in spawned workers
    sys.modules["numba"] = None  # type: ignore[assignment]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def inputs(models: int, examples: int, replicates: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    return dict(
        unlearned_confs=rng.normal(0.3, 1.0, size=(models, examples)),
        retrained_confs=rng.normal(0.0, 1.0, size=(models, examples)),
        unlearned_retain_acc=rng.uniform(0.85, 0.95, models),
        retrained_retain_acc=rng.uniform(0.90, 1.00, models),
        unlearned_test_acc=rng.uniform(0.55, 0.65, models),
        retrained_test_acc=rng.uniform(0.60, 0.70, models),
        estimator="neurips2023",
        n_bootstrap=replicates,
        noise_floor=0.0,  # not what is measured here
    )


def measure(args: argparse.Namespace) -> None:
    """One side: time score_submission in this process, print JSON."""
    from harness.scoring import neurips2023_kernel, score_submission

    kwargs = inputs(args.models, args.examples, args.replicates)
    if neurips2023_kernel.available():  # compile (or load from the disk cache) untimed
        score_submission(**{**kwargs, "n_bootstrap": 0})
    started = time.perf_counter()
    report = score_submission(**kwargs, processes=args.processes)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "compiled": neurips2023_kernel.available(),
                "seconds": seconds,
                "forget_quality_ci": report.forget_quality_ci,
                "final_score_ci": report.final_score_ci,
                "epsilons": report.epsilons.tolist(),
            }
        )
    )


def main() -> None:
    from harness.scoring.submission import bootstrap_processes

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--processes", type=int, default=bootstrap_processes())
    parser.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        measure(args)
        return
    sides = {}
    for label, extra in (("old", ["--numpy-only"]), ("new", [])):
        command = [sys.executable, str(Path(__file__).resolve()), "--side", *extra]
        command += ["--models", str(args.models), "--examples", str(args.examples)]
        command += ["--replicates", str(args.replicates), "--processes", str(args.processes)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        sides[label] = json.loads(done.stdout.strip().splitlines()[-1])
    old, new = sides["old"], sides["new"]
    assert not old["compiled"] and new["compiled"], "numba is needed for the new side"
    assert old["epsilons"] == new["epsilons"], "the kernel changed an epsilon"
    assert old["forget_quality_ci"] == new["forget_quality_ci"], "the kernel changed the CI"
    assert old["final_score_ci"] == new["final_score_ci"]
    ratio = old["seconds"] / new["seconds"]
    print(
        f"neurips2023 bootstrap, {args.models} models x {args.examples} examples, "
        f"{args.replicates} replicates, {args.processes} workers:\n"
        f"  old (numpy, worker processes)    {old['seconds']:6.2f} s\n"
        f"  new (compiled kernel, threads)   {new['seconds']:6.2f} s\n"
        f"  {ratio:.1f}x faster, identical epsilons and intervals {new['final_score_ci']}"
    )
    print(
        json.dumps(
            {
                "old_s": round(old["seconds"], 2),
                "new_s": round(new["seconds"], 2),
                "speedup": round(ratio, 2),
                "workers": args.processes,
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
