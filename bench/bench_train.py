"""Batched replicas vs one model after another: training throughput and achieved FLOP/s.

Trains R replicas both ways on a data set's retain split (`train_replicas(stacked=False)`,
one model after another, against the batched path: the stacked MLP, or the vmapped
ensemble of `harness.reference.ensemble` for the CNN and the ResNet) and prints, side by side,
seconds per model, models per second, achieved GFLOP/s and the ratio. FLOPs of one
training step (forward + backward, per model) are counted by torch's FlopCounterMode on
one batch; the device's reference peak is a measured large fp32 matmul (4096^3 on CUDA,
2048^3 on CPU) with the same thread count, so "% of peak" reads against what this device
can actually sustain, not a data sheet. A warm-up (one epoch of 2 replicas both ways) is
excluded; on CUDA the timings are synchronised.

Run: PYTHONPATH=. python bench/bench_train.py [--model mlp] [--dataset mnist1d]
        [--replicas 16] [--epochs 3] [--device cpu] [--threads 2]
     (the defaults: the embedded default's reference models; --model cnn --dataset digits
     for a convolutional one)
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Evaluation core".
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from harness.data import load_dataset, make_splits
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn", "resnet18"])
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--data-path", default=None, help="for cifar10 or folder data sets")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    phase = PhaseConfig(
        dataset=DatasetConfig(kind=args.dataset, path=args.data_path), model=args.model
    )
    data = load_dataset(phase.dataset)
    splits = make_splits(data, phase.split)
    spec = model_spec_for(phase, data)
    retain = TrainData(*splits.tensors("retain"), data.num_classes)
    recipe = TrainRecipe(epochs=args.epochs, batch_size=args.batch_size)
    warm = TrainRecipe(epochs=1, batch_size=args.batch_size)
    seeds = range(args.replicas)
    n = len(retain.y)
    flops_per_model = step_flops(spec, retain, args.batch_size) * args.epochs * n / args.batch_size
    peak = matmul_peak(args.device)
    seconds = {}
    for label, stacked in (("one at a time", False), ("batched", True)):
        train_replicas(spec, warm, retain, seeds=range(2), device=args.device, stacked=stacked)
        seconds[label] = timed(
            lambda stacked=stacked: train_replicas(
                spec, recipe, retain, seeds=seeds, device=args.device, stacked=stacked
            ),
            args.device,
        )
    rows = {}
    for label, wall in seconds.items():
        achieved = flops_per_model * args.replicas / wall
        rows[label] = {
            "seconds_per_model": round(wall / args.replicas, 4),
            "models_per_second": round(args.replicas / wall, 3),
            "gflop_per_s": round(achieved / 1e9, 1),
            "percent_of_matmul_peak": round(100 * achieved / peak, 1),
        }
    speedup = seconds["one at a time"] / seconds["batched"]
    print(
        f"{args.model} on {args.dataset} ({n} retain examples, {args.epochs} epochs, batch "
        f"{args.batch_size}), {args.replicas} replicas, {args.device}, {args.threads} threads; "
        f"fp32 matmul peak {peak / 1e9:.0f} GFLOP/s"
    )
    for label, row in rows.items():
        print(
            f"  {label:14s} {row['seconds_per_model']:8.3f} s/model  "
            f"{row['models_per_second']:7.2f} models/s  {row['gflop_per_s']:7.1f} GFLOP/s  "
            f"{row['percent_of_matmul_peak']:5.1f}% of peak"
        )
    print(f"  batched is {speedup:.2f}x faster")
    print(
        json.dumps(
            {
                "model": args.model,
                "dataset": args.dataset,
                "device": args.device,
                "threads": args.threads,
                "replicas": args.replicas,
                "epochs": args.epochs,
                "matmul_peak_gflop_per_s": round(peak / 1e9, 1),
                **{label.replace(" ", "_"): row for label, row in rows.items()},
                "speedup_batched": round(speedup, 2),
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
