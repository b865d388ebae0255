"""Pipeline overhead over the dry-run, and throughput of one Celery worker against two.

    PYTHONPATH=. .venv/bin/python bench/bench_pipeline.py [--replicas 8] [--submissions 4]
        [--sandbox local|docker] [--out bench-pipeline.json]

Needs redis-server and PostgreSQL (scripts/start_redis.sh, scripts/start_postgres.sh): it
starts its own Redis on a free loopback port and a fresh database, like the fault tests.

1. Overhead: the same submission and seeds, (a) `harness.pipeline.dry_run` in this process,
   (b) uploaded to the pipeline (API-side enqueue -> worker -> sanity run -> shards -> chord
   -> scored both splits), timed from enqueue to `finished`. The pipeline evaluates both
   splits and runs one extra sanity seed, so it is compared with two dry-runs (public and
   private). The reference is trained beforehand (provision), so neither side trains.
2. Throughput: `--submissions` submissions queued at once, drained by one worker, then by
   two worker processes; submissions per minute.

Warm-up: one evaluation runs first and is not timed (imports, caches). Prints a table and
writes JSON. Measured figures are in docs/benchmarks.md ("## Pipeline").
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from competition.models import Phase, SubmissionStatus
from harness.pipeline import dry_run
from harness.runs.sandbox.local import LocalRunner
from tests.worker.cluster import Cluster, cluster
from tests.worker.services import wait_for
from worker.phases import phase_info

SUBMISSION = Path(__file__).resolve().parents[1] / "tests/sandbox/submissions/finetune.py"


def drain(system: Cluster, ids: list[int], timeout_s: float) -> float:
    started = time.perf_counter()
    for submission_id in ids:
        system.enqueue(submission_id)
    wait_for(
        lambda: all(system.submission(i).status == SubmissionStatus.FINISHED for i in ids),
        timeout_s=timeout_s,
        what="the submissions to finish",
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--shard-size", type=int, default=4)
    parser.add_argument("--submissions", type=int, default=4)
    parser.add_argument("--sandbox", choices=["local", "docker"], default="local")
    parser.add_argument("--out", type=Path, default=Path("bench-pipeline.json"))
    args = parser.parse_args()
    source = SUBMISSION.read_text()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        overrides = {
            "evaluation_backend": "worker.harness_backend:HarnessBackend",
            "sandbox": args.sandbox,
            "shard_size": str(args.shard_size),
            "lease_s": "60",
            "heartbeat_s": "5",
            "shard_time_limit_s": "1800",
        }
        with cluster(Path(tmp), **overrides) as system:
            phase_id = system.mnist1d_phase(replicas=args.replicas, name="bench")
            with system.sessions() as session:
                config = phase_info(session.get(Phase, phase_id)).config
            first = system.worker("w1")
            system.beat()
            # Provision (untimed): train the original and the references of both splits.
            for split in ("public", "private"):
                system.send("worker.prepare_phase", queue="cpu", phase_id=phase_id, split=split)
            warmup = [system.submit(phase_id, source, email="warmup@b.cd")]
            drain(system, warmup, timeout_s=1800)

            code = Path(tmp) / "submission.py"
            code.write_text(source)
            dry = 0.0
            for split in ("public", "private"):
                started = time.perf_counter()
                dry_run(
                    code, config, runner=LocalRunner(), cache_dir=Path(tmp) / "cache", split=split
                )
                dry += time.perf_counter() - started

            one = [system.submit(phase_id, source, email="one@b.cd")]
            pipeline = drain(system, one, timeout_s=1800)

            batch = [
                system.submit(phase_id, source, email=f"a{i}@b.cd") for i in range(args.submissions)
            ]
            one_worker = drain(system, batch, timeout_s=3600)
            system.worker("w2")
            batch = [
                system.submit(phase_id, source, email=f"b{i}@b.cd") for i in range(args.submissions)
            ]
            two_workers = drain(system, batch, timeout_s=3600)
            first.stop()
    result = {
        "replicas": args.replicas,
        "shard_size": args.shard_size,
        "sandbox": args.sandbox,
        "dry_run_both_splits_s": round(dry, 2),
        "pipeline_one_submission_s": round(pipeline, 2),
        "overhead_ratio": round(pipeline / dry, 2),
        "submissions": args.submissions,
        "one_worker_s": round(one_worker, 2),
        "two_workers_s": round(two_workers, 2),
        "one_worker_per_min": round(60 * args.submissions / one_worker, 2),
        "two_workers_per_min": round(60 * args.submissions / two_workers, 2),
        "speedup_two_vs_one": round(one_worker / two_workers, 2),
    }
    for key, value in result.items():
        print(f"{key:28s} {value}")
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
