"""Score and interval against the number of original models K, at the same N.

Run:  PYTHONPATH=. python bench/bench_originals.py [--replicas 32] [--ks 1 2 4 8]
                  [--methods do_nothing finetune] [--epochs 40] [--json OUT]

On the embedded default (mnist1d, mlp (256, 256), 10% of train forgotten, dev split), each
method runs N times with `originals: K` (run i from original i mod K) and is scored with
both `neurips2023` (the phase default) and `calibrated`, with the 95% bootstrap interval
(200 replicates), and each original's own score (`harness.scoring.originals`). Originals
are cached per seed, so K = 8 trains seven beyond K = 1's and K = 2, 4 reuse them; the
reference (N retrained models) is the same for every K.

`do_nothing` is the deterministic method (every run returns its original), `finetune` a
stochastic one (the retain loader's order follows the run's seed). Figures and the machine
are in docs/scoring.md ("Several originals").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from harness.phase import PhaseConfig, TrainRecipe  # noqa: E402
from harness.pipeline import evaluate_weights, prepare_phase, run_seeds, score  # noqa: E402
from harness.report.build import originals_report  # noqa: E402
from harness.runs.execute import validated_states  # noqa: E402
from harness.runs.sandbox.local import LocalRunner  # noqa: E402

BASELINES = REPO_ROOT / "starting_kit" / "baselines"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=32)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--methods", nargs="+", default=["do_nothing", "finetune"])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/bench-originals"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for k in args.ks:
        phase = PhaseConfig(
            replicas=args.replicas, originals=k, recipe=TrainRecipe(epochs=args.epochs)
        )
        started = time.perf_counter()
        prepared = prepare_phase(phase, split="dev", cache_dir=args.cache_dir)
        print(f"K={k}: prepared in {time.perf_counter() - started:.0f} s", flush=True)
        for method in args.methods:
            outcomes = run_seeds(
                LocalRunner(processes=2),
                BASELINES / f"{method}.py",
                prepared,
                seeds=range(args.replicas),
            )
            states = validated_states(outcomes, prepared.reference.original)
            unlearned = evaluate_weights(prepared, states)
            row = {
                "method": method,
                "originals": k,
                "replicas": args.replicas,
                # each original's runs, with the phase's estimator (neurips2023)
                "per_original": originals_report(prepared, unlearned, seeds=range(args.replicas)),
            }
            for estimator in ("neurips2023", "calibrated"):
                result = score(prepared, unlearned, estimator=estimator, processes=2)
                row[estimator] = {
                    "final_score": result.final_score,
                    "final_score_ci": result.final_score_ci,
                    "forget_quality": result.forget_quality,
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    document = {
        "rows": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "load_average": os.getloadavg(),
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
