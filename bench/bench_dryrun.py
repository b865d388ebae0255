"""How long does `unlearn dry-run starting_kit/examples/finetune.py` take, cold and cached?

Runs the CLI's code path twice with the defaults (embedded MNIST-1D, 64 replicas per side,
neurips2023 estimator) against a fresh cache folder: the first run trains the original and
the reference, the second reuses them. Prints both wall times, per stage, and their ratio.

Run: PYTHONPATH=. python bench/bench_dryrun.py [--replicas 64] [--submission PATH]
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Evaluation core".
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness.phase import PhaseConfig
from harness.pipeline import dry_run
from harness.runs.sandbox.local import LocalRunner
from unlearn.dry_run import local_processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument(
        "--submission", type=Path, default=Path("starting_kit/examples/finetune.py")
    )
    args = parser.parse_args()
    phase = PhaseConfig(replicas=args.replicas)
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold", "cached"):
            started = time.perf_counter()
            report, *_ = dry_run(
                args.submission,
                phase,
                runner=LocalRunner(processes=local_processes(1)),
                cache_dir=Path(cache),
            )
            results[label] = {
                "wall_s": round(time.perf_counter() - started, 1),
                "stages_s": report["timings_s"],
                "forget_quality": report["forget_quality"],
                "noise_floor": report["noise_floor"],
                "efficiency": report["efficiency"]["message"],
            }
    results["cold_over_cached"] = round(results["cold"]["wall_s"] / results["cached"]["wall_s"], 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
