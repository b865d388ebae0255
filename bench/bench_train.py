"""Stacked MLP replicas vs one model after another: training throughput on this machine.

Trains R replicas of the embedded default's MLP on MNIST-1D's retain split both ways and
prints seconds per model and the ratio. On a GPU (`--device cuda`) the stacked ensemble is
where the gain lies; on a 2-core CPU it is smaller.

Run: PYTHONPATH=. python bench/bench_train.py [--replicas 16] [--epochs 5] [--device cpu]
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Evaluation core".
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from harness.config import DatasetConfig, PhaseConfig, TrainRecipe
from harness.data import load_dataset, make_splits
from harness.reference import model_spec_for
from harness.train import TrainData, train_replicas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    phase = PhaseConfig(dataset=DatasetConfig("mnist1d"))
    data = load_dataset(phase.dataset)
    splits = make_splits(data, phase.split)
    spec = model_spec_for(phase, data)
    retain = TrainData(*splits.tensors("retain"), data.num_classes)
    recipe = TrainRecipe(epochs=args.epochs)
    seeds = range(args.replicas)
    train_replicas(spec, TrainRecipe(epochs=1), retain, seeds=range(2), device=args.device)
    timings = {}
    for label, stacked in (("loop", False), ("stacked", True)):
        started = time.perf_counter()
        train_replicas(spec, recipe, retain, seeds=seeds, device=args.device, stacked=stacked)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        timings[label] = (time.perf_counter() - started) / args.replicas
    print(
        json.dumps(
            {
                "device": args.device,
                "threads": args.threads,
                "replicas": args.replicas,
                "epochs": args.epochs,
                "seconds_per_model_loop": round(timings["loop"], 3),
                "seconds_per_model_stacked": round(timings["stacked"], 3),
                "speedup_stacked": round(timings["loop"] / timings["stacked"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
