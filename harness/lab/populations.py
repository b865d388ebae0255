"""The metric lab's two populations of models, and the perturbations its robustness uses.

    populations(prepared, count=..., cache_dir=...)     -> Populations (weights of both)
    relearn(spec, states, splits, recipe, steps=..)     -> states after k steps on the forget set
    quantize(states)                                    -> states with 8-bit weights

Knowledge present: the phase's original models (`harness.reference.originals`: trained on all
of train, the forget set included; the same cache as a phase with `originals: K`, so a lab
run after such a phase trains nothing new for them). Knowledge absent: retrained replicas
held out from the reference, trained on the retain set with seeds after the reference's
(N, N + 1, ...), so none of them is among the models a metric compares with; they are kept
beside the reference (`held-out/<seed>.safetensors`), so a second lab run trains nothing.
Both are trained like the reference (the phase's recipe, batched), and both are kept as
weights, because the robustness probes change weights:

* relearning: `steps` optimizer steps of the phase's recipe (optimizer, learning rate, batch
  size) on the forget set alone, seeded per model; one pass over the forget set by default.
  A model that never saw the forget set moves towards one that did; a metric whose verdict
  survives it reads more than the surface of the outputs (OpenUnlearning's relearning probe).
* 8-bit quantisation: every floating tensor rounded to 255 levels, symmetric, one scale per
  tensor (max |w| / 127). It leaves what a model knows intact, so a faithful metric should
  not change its verdict.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from harness.checkpoint import load_weights, save_weights
from harness.data import Splits
from harness.models import ModelSpec, build_model
from harness.phase import TrainRecipe
from harness.reference.cache import Prepared
from harness.reference.originals import prepare_originals
from harness.reference.recipe import make_optimizer
from harness.reference.train import TrainData, train_replicas
from harness.runs.protocol import shuffled_loader

__all__ = ["Populations", "populations", "quantize", "relearn", "relearn_steps"]

State = dict[str, torch.Tensor]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class Populations:
    """Weights of `count` originals (knowledge present) and `count` held-out retrained
    replicas (knowledge absent), in seed order."""

    originals: list[State]
    held_out: list[State]
    held_out_seeds: list[int]


def populations(
    prepared: Prepared,
    *,
    count: int,
    cache_dir: Path,
    device: str = "cpu",
    progress: Progress | None = None,
) -> Populations:
    """Train (or load) `count` originals and train `count` held-out retrained replicas."""
    report: Progress = progress or (lambda stage, done, total: None)
    phase, splits = prepared.phase, prepared.splits
    originals, _ = prepare_originals(
        phase,
        splits,
        prepared.spec,
        cache_dir=cache_dir,
        count=count,
        device=device,
        progress=report,
    )
    first = prepared.reference.evaluation.n_models  # the reference holds seeds 0..N-1
    seeds = list(range(first, first + count))
    # Kept beside the reference (whose key covers everything they depend on but the seed).
    folder = prepared.reference.directory / "held-out"
    paths = {seed: folder / f"{seed}.safetensors" for seed in seeds}
    held = {seed: load_weights(path) for seed, path in paths.items() if path.is_file()}
    missing = [seed for seed in seeds if seed not in held]
    if missing:
        retain = TrainData(*splits.tensors("retain"), splits.data.num_classes)
        trained = train_replicas(
            prepared.spec,
            phase.recipe,
            retain,
            seeds=missing,
            device=device,
            progress=lambda done, total: report("held-out", done, total),
        )
        folder.mkdir(parents=True, exist_ok=True)
        for seed, state in zip(missing, trained, strict=True):
            save_weights(state, folder / f".{seed}.tmp")
            os.replace(folder / f".{seed}.tmp", paths[seed])
            held[seed] = state
    return Populations(
        originals=originals, held_out=[held[seed] for seed in seeds], held_out_seeds=seeds
    )


def relearn_steps(splits: Splits, recipe: TrainRecipe) -> int:
    """One pass over the forget set at the recipe's batch size."""
    return max(1, math.ceil(len(splits.forget) / recipe.batch_size))


def relearn(
    spec: ModelSpec,
    states: Sequence[State],
    splits: Splits,
    recipe: TrainRecipe,
    *,
    steps: int,
    seed: int = 0,
    device: str = "cpu",
) -> list[State]:
    """Each state after `steps` steps of the recipe's optimizer on forget-set batches."""
    x, y = splits.tensors("forget")
    out = []
    for index, state in enumerate(states):
        model = build_model(spec)
        model.load_state_dict(state)
        model.to(device).train()
        optimizer = make_optimizer(list(model.parameters()), recipe)
        generator = torch.Generator().manual_seed(seed * 100_003 + index)
        loader = shuffled_loader((x, y), batch_size=recipe.batch_size, generator=generator)
        done = 0
        while done < steps:
            for inputs, targets in loader:
                loss = F.cross_entropy(model(inputs.to(device)), targets.to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
                optimizer.step()
                done += 1
                if done == steps:
                    break
        out.append({k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()})
    return out


def quantize(states: Sequence[State], *, bits: int = 8) -> list[State]:
    """Every floating tensor rounded to 2^bits - 1 symmetric levels, one scale per tensor."""
    levels = 2 ** (bits - 1) - 1

    def one(tensor: torch.Tensor) -> torch.Tensor:
        if not tensor.is_floating_point():
            return tensor.clone()  # counters (BatchNorm's batches tracked)
        scale = tensor.abs().max() / levels
        if scale == 0:
            return tensor.clone()
        rounded: torch.Tensor = torch.round(tensor / scale) * scale
        return rounded

    return [{name: one(tensor) for name, tensor in state.items()} for state in states]
