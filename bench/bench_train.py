"""Batched replicas vs one model after another: training throughput against the CPU's peak.

Trains R replicas both ways on a data set's retain split (`train_replicas(stacked=False)`,
one model after another, against the batched path: the stacked MLP, or the vmapped
ensemble of `harness.reference.ensemble` for the CNN and the ResNet) and prints, side by side,
seconds per model, achieved GFLOP/s and the ratio. FLOPs of one training step (forward +
backward, per model) are counted by torch's FlopCounterMode on one batch. Two references:
the cores' fp32 peak estimated from the CPU's flags and clock (`cpu_peak`: FMA lanes x FMA
units x 2 x GHz x cores, the estimate printed with how it was made) and a measured large fp32
matmul (4096^3 on CUDA, 2048^3 on CPU) with the same thread count. The load average is
printed at the start and recorded at the end (the figures mean little on a busy machine).
A warm-up (one epoch of 2 replicas both ways) is excluded; on CUDA timings are synchronised.

Run: PYTHONPATH=. python bench/bench_train.py [--presets [--quick]] [--model mlp]
        [--dataset mnist1d] [--replicas 16] [--epochs 3] [--device cpu] [--threads 2]
        [--fma-units 2]
     (--presets: the embedded default's MLP at R = 16 and 64, the CNN on digits, ResNet-18
     on generated 3x32x32 images (`rgb32`); otherwise one setting, the MLP by default)
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Training at hardware speed".
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from harness.data import load_dataset, make_splits
from harness.data.base import LabelledData
from harness.models import ModelSpec, build_model
from harness.phase import DatasetConfig, PhaseConfig, TrainRecipe
from harness.reference.cache import model_spec_for
from harness.reference.train import TrainData, train_replicas


def step_flops(spec: ModelSpec, data: TrainData, batch_size: int) -> int:
    """FLOPs of one training step of one model on a full batch (forward and backward)."""
    model = build_model(spec).train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(data.x[:batch_size]), data.y[:batch_size]).backward()
    return int(counter.get_total_flops())


def cpu_peak(cores: int, *, fma_units: int = 2) -> tuple[float, str]:
    """The cores' fp32 peak from the CPU's flags and clock, and how it was estimated.

    fp32 lanes per vector from the widest FMA instruction set the flags name (AVX-512: 16,
    AVX2 + FMA: 8; SSE without FMA: 4, one multiply and one add per cycle counted as one
    FMA), x `fma_units` per core (2 on server cores since Skylake-SP; the flags do not say:
    a measured matmul above the estimate with 1 unit shows the second) x 2 FLOP per FMA x
    clock (/proc/cpuinfo's `cpu MHz`, the nominal clock under a hypervisor: turbo can go
    above it) x cores.
    """
    flags: set[str] = set()
    mhz = 0.0
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
            elif key.strip() == "cpu MHz" and not mhz:
                mhz = float(value)
    if "avx512f" in flags:
        lanes, isa = 16, "avx512f"
    elif {"avx2", "fma"} <= flags:
        lanes, isa = 8, "avx2+fma"
    else:
        lanes, isa = 4, "sse"
    peak = lanes * fma_units * 2 * mhz * 1e6 * cores
    how = (
        f"{lanes} fp32 lanes ({isa}) x {fma_units} FMA units x 2 FLOP/FMA x "
        f"{mhz / 1000:.2f} GHz (/proc/cpuinfo cpu MHz) x {cores} cores"
    )
    return peak, how


def matmul_peak(device: str) -> float:
    """Sustained fp32 FLOP/s of a large square matmul on `device` (best of 3)."""
    size = 4096 if device.startswith("cuda") else 2048
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(4):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def timed(function, device: str) -> float:  # type: ignore[no-untyped-def]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    function()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


# The settings `--presets` measures: the embedded default's MLP at the bench's R and at the
# reference's chunk (64 replicas per stacked ensemble), the CNN, the competition's ResNet-18.
PRESETS = (
    ("mlp", "mnist1d", 16, 3),
    ("mlp", "mnist1d", 64, 3),
    ("cnn", "digits", 8, 1),
    ("resnet18", "rgb32", 4, 1),
)


def rgb32(n: int = 512) -> LabelledData:
    """A generated 3x32x32 set in 10 classes (the competition's input shape), for ResNet-18."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n)
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32) + y[:, None, None, None] / 10
    return LabelledData("rgb32", x.astype(np.float32), y.astype(np.int64), num_classes=10)


def measure(
    *,
    model: str,
    dataset: str,
    data_path: str | None,
    replicas: int,
    epochs: int,
    batch_size: int,
    device: str,
) -> dict[str, Any]:
    """Train `replicas` models one at a time and batched; seconds and achieved FLOP/s."""
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="mnist1d" if dataset == "rgb32" else dataset, path=data_path),
        model=model,
    )
    data = rgb32() if dataset == "rgb32" else load_dataset(phase.dataset)
    splits = make_splits(data, phase.split)
    spec = model_spec_for(phase, data)
    retain = TrainData(*splits.tensors("retain"), data.num_classes)
    recipe = TrainRecipe(epochs=epochs, batch_size=batch_size)
    warm = TrainRecipe(epochs=1, batch_size=batch_size)
    n = len(retain.y)
    flops_per_model = step_flops(spec, retain, batch_size) * epochs * n / batch_size
    seconds = {}
    for label, stacked in (("one at a time", False), ("batched", True)):
        train_replicas(spec, warm, retain, seeds=range(2), device=device, stacked=stacked)
        seconds[label] = timed(
            lambda stacked=stacked: train_replicas(
                spec, recipe, retain, seeds=range(replicas), device=device, stacked=stacked
            ),
            device,
        )
    return {
        "model": model,
        "dataset": dataset,
        "retain_examples": n,
        "replicas": replicas,
        "epochs": epochs,
        "batch_size": batch_size,
        "gflop_per_model": round(flops_per_model / 1e9, 2),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "flop_per_s": {k: round(flops_per_model * replicas / v) for k, v in seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", action="store_true", help="measure every PRESETS entry")
    parser.add_argument(
        "--quick", action="store_true", help="with --presets: at most 4 replicas, 1 epoch each"
    )
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn", "resnet18"])
    parser.add_argument("--dataset", default="mnist1d", help="a loader's kind, or rgb32")
    parser.add_argument("--data-path", default=None, help="for cifar10 or folder data sets")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--fma-units", type=int, default=2, help="FMA units per core (CPU peak)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    measured = matmul_peak(args.device)
    estimated, how = cpu_peak(args.threads, fma_units=args.fma_units)
    on_cpu = args.device == "cpu"
    print(f"{args.device}, {args.threads} threads, load average {load_before:.1f} at start")
    if on_cpu:
        print(f"fp32 peak (estimated) {estimated / 1e9:.0f} GFLOP/s = {how}")
    print(f"fp32 matmul (measured, best of 3) {measured / 1e9:.0f} GFLOP/s")
    settings = (
        PRESETS if args.presets else ((args.model, args.dataset, args.replicas, args.epochs),)
    )
    results = []
    for model, dataset, replicas, epochs in settings:
        if args.presets and args.quick:
            replicas, epochs = min(replicas, 4), 1
        result = measure(
            model=model,
            dataset=dataset,
            data_path=args.data_path,
            replicas=replicas,
            epochs=epochs,
            batch_size=args.batch_size,
            device=args.device,
        )
        print(
            f"{model} on {dataset} ({result['retain_examples']} retain examples, {epochs} "
            f"epochs, batch {args.batch_size}), {replicas} replicas, "
            f"{result['gflop_per_model']} GFLOP per model"
        )
        for label, wall in result["seconds"].items():
            achieved = result["flop_per_s"][label]
            share = f"{100 * achieved / estimated:5.1f}% of estimated peak, " if on_cpu else ""
            print(
                f"  {label:14s} {wall / replicas:8.3f} s/model  {achieved / 1e9:7.1f} GFLOP/s  "
                f"{share}{100 * achieved / measured:5.1f}% of measured matmul"
            )
        speedup = result["seconds"]["one at a time"] / result["seconds"]["batched"]
        print(f"  batched is {speedup:.2f}x faster")
        results.append(result)
    print(
        json.dumps(
            {
                "device": args.device,
                "threads": args.threads,
                "estimated_peak_gflop_per_s": round(estimated / 1e9, 1) if on_cpu else None,
                "peak_estimate": how if on_cpu else None,
                "matmul_gflop_per_s": round(measured / 1e9, 1),
                "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
