"""Loader cost: the run stage of a default dry-run with the old loaders and with DataLoaders.

    python bench/bench_loaders.py [--seeds 8] [--repeats 3] [--loader-repeats 30]

Job: shapes of the embedded default (mnist1d: 40 features, 10 classes, 3,600 retain / 400
forget / 1,000 validation examples; MLP 40-256-256-10, 1 thread), random values (only timing
matters), and the starting kit's finetune example (the default dry-run's typical
submission). Each seed runs as the protocol runs it (`run_once`) with three loader kinds,
interleaved and best of `--repeats` so that load from other processes hits them alike:

  old        the previous loaders: `shuffled_loader` (BatchSampler, whole-batch indexing of
             a TensorDataset, batch_size=None);
  tuple      `make_loaders(interface="tuple")`: real DataLoaders (batch_size=64, shuffle)
             over a map-style dataset, whole batches through `__getitems__`;
  kaggle2023 the same with dict batches (five tensors per batch);
  per-item   `make_loaders(fast=False)`: per-item reads and default_collate, what a
             participant's own loader over `.dataset` costs (for reference, not the goal).

Part 1 times the loaders alone (3 epochs over the retain loader, what one finetune run
reads), min over many interleaved repeats; part 2 whole runs. The goal (issue 12): the
loaders' extra cost at most 5% of a run (part 1's difference over part 2's old run time;
part 2's own ratios drift by several percent on a busy machine). Prints one line per kind,
then JSON. Results in docs/benchmarks.md
"## Loaders".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from harness.models import ModelSpec, build_model
from harness.runs.protocol import Loaders, load_submission, make_loaders, run_once, shuffled_loader

EXAMPLE = Path(__file__).resolve().parents[1] / "starting_kit" / "examples" / "finetune.py"
SPEC = ModelSpec("mlp", num_classes=10, input_shape=(40,), hidden=(256, 256))


def _split(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 40, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def _old_loaders(parts: dict, seed: int) -> Loaders:
    def loader(split, offset):  # type: ignore[no-untyped-def]
        generator = torch.Generator().manual_seed(seed * 3 + offset)
        return shuffled_loader(split, batch_size=64, generator=generator)

    return Loaders(loader(parts["retain"], 0), loader(parts["forget"], 1), loader(parts["val"], 2))


def run_stage(kind: str, parts: dict, seeds: range, original: dict) -> float:
    fn = load_submission(EXAMPLE)
    total = 0.0
    for seed in seeds:
        net = build_model(SPEC)
        net.load_state_dict(original)
        if kind == "old":
            loaders = _old_loaders(parts, seed)
        else:
            interface = "tuple" if kind in ("tuple", "per-item") else kind
            loaders = make_loaders(
                **parts, seed=seed, batch_size=64, interface=interface, fast=kind != "per-item"
            )
        if kind == "kaggle2023":  # the same finetune, reading dicts
            loaders = Loaders(
                *(_as_tuples(loader) for loader in (loaders.retain, loaders.forget, loaders.val))
            )
        total += run_once(fn, net, loaders, seed=seed, submission_dir=EXAMPLE.parent)
    return total


class _as_tuples:
    """Iterate a dict-batch loader as (image, age_group), counting the dict's cost."""

    def __init__(self, loader: torch.utils.data.DataLoader) -> None:
        self.loader, self.dataset, self.batch_size = loader, loader.dataset, loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for batch in self.loader:
            yield batch["image"], batch["age_group"]


def loader_seconds(kind: str, parts: dict, seed: int) -> float:
    """What the loaders alone cost one finetune run: 3 epochs over the retain loader."""
    if kind == "old":
        loader = _old_loaders(parts, seed).retain
    else:
        interface = "tuple" if kind in ("tuple", "per-item") else kind
        loader = make_loaders(
            **parts, seed=seed, batch_size=64, interface=interface, fast=kind != "per-item"
        ).retain
    started = time.perf_counter()
    for _ in range(3):
        for _batch in loader:
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loader-repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    parts = {
        "retain": _split(3600, generator),
        "forget": _split(400, generator),
        "val": _split(1000, generator),
    }
    original = build_model(SPEC).state_dict()
    kinds = ("old", "tuple", "kaggle2023", "per-item")
    run_stage("old", parts, range(1), original)  # warm-up: lazy imports, allocator
    # Part 1: the loaders alone, min over many interleaved repeats (robust to a busy machine).
    alone = {kind: float("inf") for kind in kinds}
    for repeat in range(args.loader_repeats):
        for kind in kinds:
            alone[kind] = min(alone[kind], loader_seconds(kind, parts, repeat))
    # Part 2: whole runs (the run stage), best of `repeats`, per run.
    per_run = {kind: float("inf") for kind in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            seconds = run_stage(kind, parts, range(args.seeds), original) / args.seeds
            per_run[kind] = min(per_run[kind], seconds)
    stage = per_run["old"]
    result = {"seeds": args.seeds, "loader_seconds": alone, "run_seconds": per_run, "share": {}}
    print(f"one finetune run (old loaders): {stage:.3f} s")
    for kind in kinds:
        extra = (alone[kind] - alone["old"]) / stage
        result["share"][kind] = extra
        print(
            f"{kind:>10}: loaders {1000 * alone[kind]:6.1f} ms per run "
            f"({alone[kind] / alone['old']:.2f}x old), {100 * extra:+5.1f}% of a run; "
            f"whole run {per_run[kind]:.3f} s ({per_run[kind] / stage:.3f}x)"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
