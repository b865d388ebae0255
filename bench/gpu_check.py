"""Is this GPU ready for a 2023-scale evaluation, and what would one cost? One prepared run.

Three parts, at most about 8 minutes on one GPU with the defaults:

1. train: R ResNet-18 replicas as one batched ensemble on CIFAR-sized inputs (3x32x32,
   synthetic: the machine may reach nothing outside), through the reference training
   code itself (`harness.reference.train.train_replicas`, vmapped by
   `harness.reference.ensemble`), under bf16 autocast on CUDA. Prints models per second,
   images per second, the achieved TFLOP/s (FLOPs of one forward and backward counted by
   torch's FlopCounterMode) against the device's peak (a large bf16 matmul measured in
   the same run: the peak this software reaches, not the spec sheet's), and the GPU
   utilisation sampled while training (needs pynvml; "unknown" without it).
2. sandbox: one shard of a submission (default starting_kit/examples/finetune.py, 8
   seeds on the embedded default) in the Docker sandbox with `--gpus`, evaluated on cuda.
   Skipped, with the reason, on CPU, without a Docker daemon or without the sandbox image.
3. projection: GPU-hours of a full 2023-scale evaluation, 512 retrained references plus
   512 unlearning runs, each run at the efficiency gate's limit (20% of a retraining),
   with the competition recipe (30 epochs) on CIFAR-10 (50,000 train, 10,000 test),
   and every model evaluated on train and test (forward only: a third of a step).

On CPU (`--device cpu --tiny`, what tests/bench/test_gpu_check.py runs) it prints the same
figures at a tiny size; the peak is unknown there and it says so.

Run: PYTHONPATH=. python bench/gpu_check.py [--device cuda] [--replicas 16] [--images 2048]
        [--submission PATH] [--tiny] [--json OUT.json]
Result: not yet measured on a GPU (see docs/benchmarks.md, "GPU readiness").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.bench_train import step_flops
from harness.models import ModelSpec
from harness.phase import RECIPES, PhaseConfig, TrainRecipe
from harness.reference.train import TrainData, train_replicas

HERE = Path(__file__).resolve().parents[1]
FULL_SCALE = {  # the 2023 evaluation this projects to
    "retrained": 512,
    "unlearned": 512,
    "run_fraction": 0.2,  # the efficiency gate: a run takes at most this share of a retrain
    "epochs": RECIPES["competition"].epochs,
    "train_images": 50_000,
    "test_images": 10_000,
}


@dataclass(frozen=True)
class Size:
    model: str
    replicas: int
    images: int
    batch_size: int
    epochs: int
    peak_side: int  # the square matmul that measures the peak


FULL = Size("resnet18", replicas=16, images=2048, batch_size=64, epochs=1, peak_side=8192)
TINY = Size("resnet18-small", replicas=2, images=16, batch_size=16, epochs=1, peak_side=256)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _autocast(device: str) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA (tensor cores); CPU trains in float32, as the harness does."""
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def measured_peak_tflops(device: str, side: int) -> float | None:
    """TFLOP/s of a large bf16 matmul on CUDA; None on CPU (no peak is claimed there)."""
    if not device.startswith("cuda"):
        return None
    a = torch.randn(side, side, device=device, dtype=torch.bfloat16)
    b = torch.randn(side, side, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    repeats = 20
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * side**3 * repeats / (time.perf_counter() - started) / 1e12


@contextlib.contextmanager
def utilisation_sampler(device: str) -> Iterator[list[float]]:
    """Samples torch.cuda.utilization() every 0.1 s while the block runs (percent)."""
    samples: list[float] = []
    if not device.startswith("cuda"):
        yield samples
        return
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            with contextlib.suppress(Exception):  # pynvml missing: no samples, said below
                samples.append(float(torch.cuda.utilization(torch.device(device))))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def train_check(size: Size, device: str) -> dict[str, Any]:
    """Part 1: R replicas trained through the reference code; throughput and FLOP/s."""
    spec = ModelSpec(name=size.model, num_classes=10, input_shape=(3, 32, 32))
    generator = torch.Generator().manual_seed(0)
    data = TrainData(
        x=torch.randn(size.images, 3, 32, 32, generator=generator),
        y=torch.randint(0, 10, (size.images,), generator=generator),
        num_classes=10,
    )
    recipe = TrainRecipe(epochs=size.epochs, batch_size=size.batch_size)
    seeds = list(range(size.replicas))
    with _autocast(device):  # warm-up: kernels chosen, memory pooled, not timed
        train_replicas(spec, recipe, data, seeds=seeds[:1], device=device)
    _sync(device)
    with utilisation_sampler(device) as samples, _autocast(device):
        started = time.perf_counter()
        train_replicas(spec, recipe, data, seeds=seeds, device=device)
        _sync(device)
        seconds = time.perf_counter() - started
    flops = step_flops(spec, data, size.batch_size)  # counted on CPU: the same FLOPs
    steps = size.replicas * size.epochs * -(-size.images // size.batch_size)
    achieved = flops * steps / seconds / 1e12
    peak = measured_peak_tflops(device, size.peak_side)
    if not device.startswith("cuda"):
        utilisation = "n/a on CPU"
    elif samples:
        utilisation = f"{sum(samples) / len(samples):.0f}% (mean of {len(samples)} samples)"
    else:
        utilisation = "unknown (torch.cuda.utilization needs pynvml)"
    return {
        "model": size.model,
        "replicas": size.replicas,
        "images": size.images,
        "seconds": round(seconds, 3),
        "models_per_s": size.replicas * size.epochs / seconds,
        "images_per_s": size.replicas * size.epochs * size.images / seconds,
        "flops_per_image": flops / size.batch_size,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "fraction_of_peak": achieved / peak if peak else None,
        "peak_note": (
            f"bf16 matmul {size.peak_side}^3, measured here"
            if peak
            else "peak unknown on CPU: no fraction of peak is claimed"
        ),
        "gpu_utilisation": utilisation,
    }


def projection(images_per_s: float) -> dict[str, Any]:
    """Part 3: GPU-hours of the full 2023-scale evaluation at this training throughput."""
    scale = FULL_SCALE
    retrain_s = scale["epochs"] * scale["train_images"] / images_per_s
    evaluate_s = (scale["train_images"] + scale["test_images"]) / (3 * images_per_s)
    models = scale["retrained"] + scale["unlearned"]
    total_s = (
        scale["retrained"] * retrain_s
        + scale["unlearned"] * scale["run_fraction"] * retrain_s
        + models * evaluate_s
    )
    return {**scale, "retrain_s_per_model": retrain_s, "gpu_hours": total_s / 3600}


def _sandbox_skip_reason(image: str) -> str | None:
    """Why the sandbox part cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "the Docker daemon is not running"
    found = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        return f"the sandbox image {image} is not built (scripts/build_sandbox_image.sh)"
    return None


def sandbox_check(submission: Path, device: str, *, seeds: int) -> dict[str, Any]:
    """Part 2: one shard of `submission` in the Docker sandbox with --gpus, scored on cuda."""
    if not device.startswith("cuda"):
        return {"skipped": "no GPU: this part runs a shard with --gpus, on cuda only"}
    from harness.runs.sandbox.docker_client import SandboxSettings

    image = os.environ.get("UNLEARN_SANDBOX__IMAGE")  # the worker's variable, too
    gpu = str(torch.device(device).index or 0)
    settings = SandboxSettings(gpu=gpu, image=image) if image else SandboxSettings(gpu=gpu)
    reason = _sandbox_skip_reason(settings.image)
    if reason is not None:
        return {"skipped": reason}
    from harness.pipeline import evaluate_weights, prepare_phase, run_seeds
    from harness.runs.execute import validated_states
    from harness.runs.sandbox.docker import DockerRunner

    phase = PhaseConfig(replicas=seeds)
    with tempfile.TemporaryDirectory() as cache:
        prepared = prepare_phase(phase, split="dev", cache_dir=Path(cache), device=device)
        runner = DockerRunner(settings)
        started = time.perf_counter()
        try:
            outcomes = run_seeds(runner, submission, prepared, seeds=range(seeds), device=device)
        finally:
            runner.close()
        run_s = time.perf_counter() - started
        states = validated_states(outcomes, prepared.reference.original)
        started = time.perf_counter()
        evaluation = evaluate_weights(prepared, states, device=device)
        evaluate_s = time.perf_counter() - started
    return {
        "seeds": seeds,
        "runs_s": round(run_s, 2),
        "runs_per_s": seeds / run_s,
        "evaluate_s": round(evaluate_s, 2),
        "test_accuracy": float(evaluation.test_acc.mean()),
    }


def _guarded_sandbox_check(submission: Path, device: str) -> dict[str, Any]:
    """Part 2, its failure reported beside the training figures instead of losing them."""
    try:
        return sandbox_check(submission, device, seeds=8)
    except Exception as error:  # a bench: print what went wrong, keep the other parts
        return {"failed": f"{type(error).__name__}: {error}"}


def check(
    *, device: str, tiny: bool, replicas: int | None, images: int | None, submission: Path
) -> dict[str, Any]:
    """All three parts; the numbers main() prints."""
    size = TINY if tiny else FULL
    if replicas is not None or images is not None:
        size = Size(
            size.model,
            replicas=replicas or size.replicas,
            images=images or size.images,
            batch_size=size.batch_size,
            epochs=size.epochs,
            peak_side=size.peak_side,
        )
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"
    threads = torch.get_num_threads()
    if tiny and not device.startswith("cuda"):
        # One thread: a tiny model's steps are too short to share, and on a busy CPU the
        # threads wait for each other (5x the CPU time, measured on the 2-core machine).
        torch.set_num_threads(1)
    try:
        train = train_check(size, device)
    finally:
        torch.set_num_threads(threads)
    return {
        "device": f"{name} ({device}), torch {torch.__version__}",
        "train": train,
        "sandbox": _guarded_sandbox_check(submission, device),
        "projection": projection(train["images_per_s"]),
    }


def _print(result: dict[str, Any]) -> None:
    train, sandbox, full = result["train"], result["sandbox"], result["projection"]
    print(f"device: {result['device']}")
    print(
        f"train: {train['replicas']} x {train['model']} on {train['images']} images in "
        f"{train['seconds']:.2f} s: {train['models_per_s']:.3g} models/s (one epoch each), "
        f"{train['images_per_s']:.4g} images/s"
    )
    fraction = train["fraction_of_peak"]
    print(
        f"achieved: {train['achieved_tflops']:.3g} TFLOP/s; "
        + (
            f"peak {train['peak_tflops']:.4g} TFLOP/s ({train['peak_note']}), "
            f"{100 * fraction:.1f}% of it"
            if fraction is not None
            else train["peak_note"]
        )
    )
    print(f"GPU utilisation: {train['gpu_utilisation']}")
    if "skipped" in sandbox:
        print(f"sandbox: skipped ({sandbox['skipped']})")
    elif "failed" in sandbox:
        print(f"sandbox: FAILED ({sandbox['failed']})")
    else:
        print(
            f"sandbox: {sandbox['seeds']} seeds with --gpus in {sandbox['runs_s']} s "
            f"({sandbox['runs_per_s']:.3g} runs/s), evaluated on cuda in "
            f"{sandbox['evaluate_s']} s (test accuracy {sandbox['test_accuracy']:.3f})"
        )
    print(
        f"projection: {full['retrained']} + {full['unlearned']} models at 2023 scale "
        f"({full['epochs']} epochs x {full['train_images']} images, runs at "
        f"{100 * full['run_fraction']:.0f}% of a retraining): "
        f"{full['gpu_hours']:.4g} GPU-hours at this throughput"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (CPU tests)")
    parser.add_argument("--replicas", type=int, help="models trained as one ensemble")
    parser.add_argument("--images", type=int, help="CIFAR-sized training images")
    parser.add_argument(
        "--submission", type=Path, default=HERE / "starting_kit/examples/finetune.py"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda asked, but torch sees no CUDA device; try --device cpu")
    result = check(
        device=args.device,
        tiny=args.tiny,
        replicas=args.replicas,
        images=args.images,
        submission=args.submission,
    )
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
