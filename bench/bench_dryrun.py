"""How long does `unlearn dry-run starting_kit/examples/finetune.py` take as typed?

Times the whole command, process start to exit, the way a participant runs it: a fresh
`python -m unlearn.cli dry-run SUBMISSION` per call, with the defaults (embedded MNIST-1D,
64 replicas per side, neurips2023 estimator). Per tree, two calls on one new cache:

    cold    empty reference cache and empty compiled-kernel cache (numba's, through
            NUMBA_CACHE_DIR): it trains the original and the reference, compiles the kernel;
    cached  the same command again: everything is loaded from those caches.

Each call reports its wall time, its CPU time (the process and its forks: steadier than
the wall on a shared machine), the stage split from its report.json (`timings_s`), the
time outside every stage (start-up, imports, printing), and the submission's own work:
its per-seed run seconds summed and shared over the runner's processes, the floor the
runs stage cannot beat. "before" is a detached git worktree of `--before` (default the
landed fe1aa2d), "after" this checkout; both run with this interpreter, in one run of
this script, alternately, so that a load change on the machine touches both.

Run: python bench/bench_dryrun.py [--before REF] [--replicas 64] [--repeats 1]
     [--submission PATH] [--only after] [--cached-only CACHE_DIR]
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Dry-run as typed".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
LANDED = "fe1aa2d"


@contextlib.contextmanager
def _worktree(ref: str) -> Iterator[Path]:
    """A detached checkout of `ref`, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-before-"))
    subprocess.run(
        ["git", "-C", str(HERE), "worktree", "add", "--detach", "--quiet", str(folder), ref],
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "remove", "--force", str(folder)], check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _processes() -> int:
    """The local runner's default forks (unlearn.dry_run.local_processes with 1 thread)."""
    return max(1, len(os.sched_getaffinity(0)))


def run_once(
    tree: Path, submission: Path, *, cache: Path, numba: Path, out: Path, replicas: int
) -> dict:
    """One `unlearn dry-run` as a new process from `tree`; its times and its stage split."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),  # ahead of the editable install: this tree's code runs
        "NUMBA_CACHE_DIR": str(numba),
        "PYTHONDONTWRITEBYTECODE": "",
    }
    command = [
        sys.executable,
        "-m",
        "unlearn.cli",
        "dry-run",
        str(submission),
        "--replicas",
        str(replicas),
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
    ]
    cpu = _child_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _child_cpu_s() - cpu
    if done.returncode != 0:
        raise SystemExit(f"dry-run in {tree} exited {done.returncode}:\n{done.stdout[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    # The stage timings sit under `provenance` since the typed report; at the top before it.
    timings = report.get("provenance", report)["timings_s"]
    stages = {k: round(v, 2) for k, v in timings.items()}
    own = report["efficiency"]["run_seconds_mean"] * report["replicas"] / _processes()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "stages_s": stages,
        "outside_stages_s": round(wall - sum(stages.values()), 2),
        "submission_own_work_s": round(own, 2),
        "runs_over_own_work": round(stages["runs"] / own, 2) if own > 0 else None,
        "wall_over_runs": round(wall / stages["runs"], 2),
        "forget_quality": report["forget_quality"],
    }


def _best(results: list[dict]) -> dict:
    """The fastest call, with its own split: on a shared machine load only adds time."""
    return min(results, key=lambda r: r["wall_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=LANDED, help="git ref of the 'before' tree")
    parser.add_argument("--only", choices=("before", "after"), help="time one tree only")
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1, help="cold+cached pairs per tree")
    parser.add_argument(
        "--submission", type=Path, default=Path("starting_kit/examples/finetune.py")
    )
    parser.add_argument(
        "--cached-only",
        type=Path,
        metavar="CACHE",
        help="skip the cold calls: the trees share the reference cache CACHE (kept), one "
        "untimed call per tree fills its kernel cache, then cached calls",
    )
    args = parser.parse_args()
    submission = (HERE / args.submission).resolve()
    with contextlib.ExitStack() as stack:
        trees: dict[str, Path] = {}
        if args.only != "after":
            trees["before"] = stack.enter_context(_worktree(args.before))
        if args.only != "before":
            trees["after"] = HERE
        runs: dict[str, dict[str, list[dict]]] = {
            label: {"cold": [], "cached": []} for label in trees
        }
        kinds = ("cached",) if args.cached_only else ("cold", "cached")
        shared = args.cached_only
        if shared:
            for label, tree in trees.items():
                run_once(
                    tree,
                    submission,
                    cache=shared,
                    numba=shared / f"numba-{label}",  # compiled per source tree
                    out=shared / f"out-{label}",
                    replicas=args.replicas,
                )
        for _ in range(args.repeats):
            for label, tree in trees.items():  # alternately: a load change hits both
                with tempfile.TemporaryDirectory() as scratch:
                    cache, out = Path(scratch) / "cache", Path(scratch) / "out"
                    numba = cache / "numba"
                    if shared:
                        cache, numba = shared, shared / f"numba-{label}"
                    for kind in kinds:
                        result = run_once(
                            tree,
                            submission,
                            cache=cache,
                            numba=numba,
                            out=out,
                            replicas=args.replicas,
                        )
                        runs[label][kind].append(result)
                        print(f"{label} {kind}: {result['wall_s']} s", file=sys.stderr)
    summary: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "replicas": args.replicas,
        "before": args.before,
    }
    for label, kinds in runs.items():
        summary[label] = {kind: _best(found) for kind, found in kinds.items() if found}
        summary[label]["cached_walls_s"] = [r["wall_s"] for r in kinds["cached"]]
        summary[label]["cached_cpu_s"] = [r["cpu_s"] for r in kinds["cached"]]
    if len(runs) == 2:
        summary["speed-up"] = {
            kind: round(
                min(r["wall_s"] for r in runs["before"][kind])
                / min(r["wall_s"] for r in runs["after"][kind]),
                2,
            )
            for kind in ("cold", "cached")
            if runs["after"][kind]
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
