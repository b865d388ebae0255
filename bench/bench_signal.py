"""Does the embedded default carry a membership signal? Original vs retrained, measured.

Trains N originals (fresh seeds, all of train) and N retrained references (seeds 0..N-1,
retain only), scores the originals as if they were unlearned models with the competition
estimator, and compares F with the noise floor (retrained vs retrained halves). The
requirement (issue 2): F(original vs retrained) <= noise_floor / 2 at N = 64.

Run: PYTHONPATH=. python bench/bench_signal.py [--dataset mnist1d] [--replicas 64] [--epochs 40]
Result on the 2-core x86_64 CPU, no GPU: see docs/benchmarks.md, "Evaluation core".
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from harness.data import load_dataset, make_splits
from harness.evaluate import evaluate_states
from harness.phase import RECIPES, DatasetConfig, PhaseConfig, SplitConfig
from harness.reference.cache import model_spec_for
from harness.reference.train import TrainData, train_replicas
from harness.scoring import noise_floor, score_submission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--forget-fraction", type=float, default=0.1)
    parser.add_argument("--estimator", default="neurips2023")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    recipe = RECIPES["cpu-default"]
    if args.epochs:
        recipe = type(recipe)(**{**recipe.__dict__, "epochs": args.epochs})
    phase = PhaseConfig(
        dataset=DatasetConfig(kind=args.dataset),
        split=SplitConfig(forget_fraction=args.forget_fraction),
        model=args.model,
        hidden=tuple(int(h) for h in args.hidden.split(",")),
        recipe=recipe,
        replicas=args.replicas,
    )
    data = load_dataset(phase.dataset)
    splits = make_splits(data, phase.split, "public")
    spec = model_spec_for(phase, data)
    n = args.replicas

    started = time.perf_counter()
    retain = TrainData(*splits.tensors("retain"), data.num_classes)
    train = TrainData(*splits.tensors("train"), data.num_classes)
    retrained = train_replicas(spec, recipe, retain, seeds=range(n))
    originals = train_replicas(spec, recipe, train, seeds=range(10_000, 10_000 + n))
    train_seconds = time.perf_counter() - started

    ref = evaluate_states(spec, retrained, splits)
    orig = evaluate_states(spec, originals, splits)
    started = time.perf_counter()
    report = score_submission(
        unlearned_confs=orig.forget_confs,
        retrained_confs=ref.forget_confs,
        unlearned_retain_acc=orig.retain_acc,
        retrained_retain_acc=ref.retain_acc,
        unlearned_test_acc=orig.test_acc,
        retrained_test_acc=ref.test_acc,
        estimator=args.estimator,
    )
    floor = noise_floor(ref.forget_confs, estimator=args.estimator, seed=0)
    score_seconds = time.perf_counter() - started
    result = {
        "dataset": args.dataset,
        "model": args.model,
        "hidden": args.hidden,
        "epochs": recipe.epochs,
        "replicas": n,
        "sizes": splits.sizes(),
        "estimator": args.estimator,
        "F_original_vs_retrained": report.forget_quality,
        "noise_floor": floor,
        "ratio_F_to_floor": report.forget_quality / floor if floor else float("nan"),
        "requirement_met": report.forget_quality <= floor / 2,
        "original_forget_acc": float(np.mean(orig.forget_acc)),
        "retrained_forget_acc": float(np.mean(ref.forget_acc)),
        "original_test_acc": float(np.mean(orig.test_acc)),
        "retrained_test_acc": float(np.mean(ref.test_acc)),
        "train_seconds_2n_models": round(train_seconds, 1),
        "score_seconds": round(score_seconds, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
