"""What a run's clock charges a do-nothing submission, per image and runtime.

    python bench/bench_run_clock.py IMAGE [IMAGE ...] [--seeds 8] [--runtimes runc,runsc]

Each IMAGE (a tag scripts/build_sandbox_image.sh printed, for this tree or an older one) runs
the tests' tiny job (MLP 8-16-3, 64 retain examples) with the do-nothing submission through
`DockerRunner`, every seed in its own forked child; it prints the median and the largest
per-seed time the runner reports, which is what the efficiency gate reads. A do-nothing run
does no work of its own: whatever it is charged is the harness's fixed cost inside the
run's window. JSON last.

Measured 2026-12-07 on the 2-core x86_64 CPU developer machine (no GPU, shared with other
jobs), 8 seeds, docs/benchmarks.md "Run clock". Before (the window from the ready byte to
the child's exit and sweep): 91 ms under runc and 253 ms under gVisor at load average 10;
now (from the hand-over to the complete result, the set-up rehearsed): 10 ms and 46 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.runs.sandbox.docker import DockerRunner  # noqa: E402
from harness.runs.sandbox.docker_client import SandboxSettings  # noqa: E402
from tests.sandbox.conftest import tiny_job  # noqa: E402

DO_NOTHING = ROOT / "tests" / "sandbox" / "submissions" / "do_nothing.py"


def measure(image: str, runtime: str | None, seeds: int) -> dict[str, object]:
    settings = SandboxSettings(
        image=image,
        runtime=runtime,
        memory="1g",
        pids_limit=1024 if runtime == "runsc" else 256,
        tmp_size="64m",
        shm_size="64m",
        output_size="64m",
        startup_s=60.0,
    )
    with tempfile.TemporaryDirectory() as work:
        runner = DockerRunner(settings, work_dir=Path(work))
        try:
            outcomes = runner.run(tiny_job(DO_NOTHING, seeds=tuple(range(seeds))))
        finally:
            runner.close()
    seconds = sorted(o.seconds for o in outcomes)
    return {
        "image": image,
        "runtime": runtime or "runc",
        "ok": all(o.ok for o in outcomes),
        "median_s": statistics.median(seconds),
        "max_s": seconds[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--runtimes", default="runc,runsc")
    args = parser.parse_args()
    rows = []
    for runtime in args.runtimes.split(","):
        for image in args.images:
            row = measure(image, None if runtime == "runc" else runtime, args.seeds)
            rows.append(row)
            print(
                f"{row['runtime']:6} {image}: median {1000 * row['median_s']:.1f} ms, "
                f"max {1000 * row['max_s']:.1f} ms, all ok: {row['ok']}"
            )
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
