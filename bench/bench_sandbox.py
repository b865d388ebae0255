"""Sandbox overhead: the same submission and seeds in process and in the Docker sandbox.

    python bench/bench_sandbox.py [--seeds 64] [--repeats 2] [--runtime runsc]

Job: shapes of the embedded default (mnist1d: 40 features, 10 classes, 4,000 train examples
split 3,600 retain / 400 forget, 1,000 validation; MLP 40-256-256-10), random values (only
timing matters), and a fine-tuning submission (one epoch over the retain set, SGD, batch 64)
like the starting kit's baseline. All seeds run in one container, as a worker shard does.

Three ways to run the same job, best of `--repeats`, interleaved so that load from other
processes hits them alike:
  warm     in this process, torch and the submission's first-call imports already loaded
           (what LocalRunner costs once a dry-run process is warm);
  fresh    a new host process running the sandbox's runner (`python -m
           harness.sandbox.runner`) without a container: import torch, read the job folder,
           and the one-off first-call cost (torch.optim imports torch._dynamo, seconds);
  sandbox  DockerRunner: the same runner in the container, plus container start, job folder
           writing, output validation, clean-up.
Ratios sandbox/fresh (the container's own overhead) and sandbox/warm (goal: at most 1.3x),
and the fixed cost of one container (a do-nothing submission, one seed). JSON last.

Measured on the 2-core x86_64 CPU developer machine (no GPU, shared with other jobs), see
docs/benchmarks.md "## Sandbox".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from harness.models import ModelSpec, build_model
from harness.protocol import load_submission, make_loaders, run_once
from harness.sandbox.base import Job
from harness.sandbox.docker import DockerRunner
from harness.sandbox.docker_client import SandboxSettings
from harness.sandbox.job import JobConfig, write_job_folder

FINETUNE = """
import torch

def unlearning(net, retain_loader, forget_loader, val_loader):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for inputs, targets in retain_loader:
        loss = torch.nn.functional.cross_entropy(net(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""
DO_NOTHING = "def unlearning(net, retain_loader, forget_loader, val_loader):\n    pass\n"


def make_job(submission: Path, seeds: tuple[int, ...]) -> Job:
    spec = ModelSpec(name="mlp", num_classes=10, input_shape=(40,), hidden=(256, 256))
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 40, generator=generator), torch.randint(
            0, 10, (n,), generator=generator
        )

    return Job(
        submission=submission,
        spec=spec,
        original=build_model(spec).state_dict(),
        retain=split(3600),
        forget=split(400),
        val=split(1000),
        seeds=seeds,
        batch_size=64,
        threads=1,
        time_limit_s=600,
    )


def in_process(job: Job) -> float:
    """The in-process path (what LocalRunner does), timed end to end."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    fn = load_submission(job.submission)
    for seed in job.seeds:
        net = build_model(job.spec)
        net.load_state_dict(job.original)
        loaders = make_loaders(
            retain=job.retain, forget=job.forget, val=job.val, seed=seed, batch_size=job.batch_size
        )
        run_once(fn, net, loaders, seed=seed, submission_dir=Path(job.submission).parent)
        {k: v.detach().clone() for k, v in net.state_dict().items()}
    torch.set_num_threads(threads)
    return time.perf_counter() - started


def in_fresh_process(job: Job) -> float:
    """The sandbox's runner in a new host process, no container: the same work minus Docker."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        write_job_folder(
            Path(folder, "job"),
            submission=job.submission,
            spec=job.spec,
            original=job.original,
            retain=job.retain,
            forget=job.forget,
            val=job.val,
            config=JobConfig(
                seeds=tuple(job.seeds), batch_size=job.batch_size, threads=job.threads
            ),
        )
        Path(folder, "out").mkdir()
        subprocess.run(
            [sys.executable, "-m", "harness.sandbox.runner", f"{folder}/job", f"{folder}/out"],
            check=True,
            capture_output=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        return time.perf_counter() - started


def in_sandbox(runner: DockerRunner, job: Job) -> float:
    started = time.perf_counter()
    outcomes = runner.run(job)
    elapsed = time.perf_counter() - started
    failed = [o.error for o in outcomes if not o.ok]
    assert not failed, failed
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runtime", default=None, help="e.g. runsc (gVisor)")
    args = parser.parse_args()

    runner = DockerRunner(replace(SandboxSettings(), runtime=args.runtime, memory="4g"))
    runner.self_check()
    with tempfile.TemporaryDirectory() as folder:
        finetune, nothing = Path(folder, "finetune.py"), Path(folder, "nothing.py")
        finetune.write_text(FINETUNE)
        nothing.write_text(DO_NOTHING)
        job = make_job(finetune, tuple(range(args.seeds)))
        in_sandbox(runner, make_job(nothing, (0,)))  # warmup: page cache, image layers
        in_process(make_job(finetune, (0,)))
        times: dict[str, list[float]] = {"warm": [], "fresh": [], "sandbox": [], "fixed": []}
        for _ in range(args.repeats):
            times["warm"].append(in_process(job))
            times["fresh"].append(in_fresh_process(job))
            times["sandbox"].append(in_sandbox(runner, job))
            times["fixed"].append(in_sandbox(runner, make_job(nothing, (0,))))
    warm, fresh, sandbox, fixed = (min(times[k]) for k in ("warm", "fresh", "sandbox", "fixed"))
    result = {
        "seeds": args.seeds,
        "runtime": args.runtime or "runc",
        "warm_in_process_s": round(warm, 2),
        "fresh_process_s": round(fresh, 2),
        "sandbox_s": round(sandbox, 2),
        "ratio_sandbox_over_fresh": round(sandbox / fresh, 3),
        "ratio_sandbox_over_warm": round(sandbox / warm, 3),
        "container_fixed_cost_s": round(fixed, 2),
        "goal_ratio": 1.3,
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print(
        f"warm in-process {warm:.2f} s, fresh process {fresh:.2f} s, sandbox {sandbox:.2f} s: "
        f"sandbox/fresh {sandbox / fresh:.2f}x, sandbox/warm {sandbox / warm:.2f}x "
        f"(goal <= 1.3x); one container's fixed cost {fixed:.2f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
