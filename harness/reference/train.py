"""Training from scratch: the original model and the retrained reference models.

    train_model(spec, recipe, data, seed=...)        -> (state dict, seconds)   one model
    train_replicas(spec, recipe, data, seeds=[...])  -> [state dict, ...]        many models

A model's initialisation and data order are functions of its seed alone, so a replica
trained alone and the same replica trained in a stacked ensemble see the same numbers.
`train_model` reads its batches through the same kind of loader a submission receives
(`harness.data.batches.shuffled_loader`), which makes its wall time the fair "one retraining" of the
efficiency gate. `train_replicas` trains MLP replicas as one stacked ensemble (weights
[R, in, out], batched matmuls; Adam and SGD act element-wise, so this equals R separate
trainings up to float rounding) and other architectures (CNN, ResNet) as one vmapped
ensemble (`harness.reference.ensemble`, same equivalence). What the three ways share
(initial weights, batch order, loss weights, optimizer, schedule) is in `recipe.py`.
Measured speed-ups are in docs/benchmarks.md (bench/bench_train.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harness.data.batches import shuffled_loader
from harness.models import ModelSpec, build_model
from harness.phase import TrainRecipe
from harness.reference.ensemble import train_vmapped
from harness.reference.recipe import (
    TrainData,
    class_weights,
    epoch_order,
    has_batch_norm,
    init_state,
    make_optimizer,
    make_scheduler,
    steps_per_epoch,
)

__all__ = [
    "Progress",
    "TrainData",
    "class_weights",
    "epoch_order",
    "replica_trainer",
    "init_state",
    "train_model",
    "train_replicas",
]

Progress = Callable[[int, int], None]
"""Called with (done, total) in model-epochs as training advances."""

STACK_CHUNK = 64  # replicas per stacked ensemble: bounds memory on big data sets
VMAP_CHUNK = {"resnet18": 16}  # 11M parameters each: fewer per vmapped ensemble
# Vmapped ResNets ran 2.5x slower than one model after another on CPU (bench/bench_train.py
# --presets, docs/benchmarks.md "Training at hardware speed"): on CPU they train one at a time.
ALONE_ON_CPU = frozenset({"resnet18", "resnet18-small"})


def train_model(
    spec: ModelSpec,
    recipe: TrainRecipe,
    data: TrainData,
    *,
    seed: int,
    device: str = "cpu",
    progress: Progress | None = None,
) -> tuple[dict[str, torch.Tensor], float]:
    """Train one model from its seeded initialisation; return CPU weights and wall seconds."""
    model = build_model(spec)
    model.load_state_dict(init_state(spec, seed))
    model.to(device).train()
    weight = class_weights(data.y, data.num_classes).to(device) if recipe.class_weighted else None
    generator = torch.Generator().manual_seed(seed)
    loader = shuffled_loader((data.x, data.y), batch_size=recipe.batch_size, generator=generator)
    optimizer = make_optimizer(list(model.parameters()), recipe)
    scheduler = make_scheduler(
        optimizer, recipe, recipe.epochs * steps_per_epoch(len(data.y), recipe.batch_size)
    )
    skip_single = has_batch_norm(model)
    started = time.perf_counter()
    for epoch in range(recipe.epochs):
        for inputs, targets in loader:
            if skip_single and len(targets) == 1:
                continue
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets, weight=weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
            optimizer.step()
            scheduler.step()
        if progress is not None:
            progress(epoch + 1, recipe.epochs)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}, seconds


def _linear_keys(spec: ModelSpec) -> list[tuple[str, str]]:
    """(weight, bias) state keys of the MLP's Linear layers, input to output."""
    model = build_model(spec)
    return [
        (f"{name}.weight", f"{name}.bias")
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
    ]


def _train_stacked_mlp(
    spec: ModelSpec,
    recipe: TrainRecipe,
    data: TrainData,
    *,
    seeds: Sequence[int],
    device: str,
    progress: Callable[[int], None],
) -> list[dict[str, torch.Tensor]]:
    keys = _linear_keys(spec)
    states = [init_state(spec, seed) for seed in seeds]
    # Linear keeps weight [out, in]; stacked replicas use [R, in, out] for baddbmm.
    weights = [torch.stack([s[w].T for s in states]).to(device).requires_grad_() for w, _ in keys]
    biases = [
        torch.stack([s[b] for s in states]).unsqueeze(1).to(device).requires_grad_()
        for _, b in keys
    ]
    x = data.x.reshape(len(data.y), -1).to(device)
    y = data.y.to(device)
    n, replicas = len(y), len(seeds)
    class_weight = class_weights(data.y, data.num_classes).to(device)
    index_loaders = [
        shuffled_loader(
            (torch.arange(n),),
            batch_size=recipe.batch_size,
            generator=torch.Generator().manual_seed(seed),
        )
        for seed in seeds
    ]
    optimizer = make_optimizer([*weights, *biases], recipe, fused=True)
    scheduler = make_scheduler(
        optimizer, recipe, recipe.epochs * steps_per_epoch(n, recipe.batch_size)
    )
    for _ in range(recipe.epochs):
        order = torch.stack([epoch_order(loader) for loader in index_loaders]).to(device)  # [R, n]
        for start in range(0, n, recipe.batch_size):
            index = order[:, start : start + recipe.batch_size]  # [R, B]
            hidden, targets = x[index], y[index]  # [R, B, in], [R, B]
            for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
                hidden = torch.baddbmm(bias, hidden, weight)
                if layer < len(weights) - 1:
                    hidden = torch.relu(hidden)
            losses = F.cross_entropy(
                hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1), reduction="none"
            ).view(replicas, -1)
            if recipe.class_weighted:
                example_weight = class_weight[targets]
                per_replica = (losses * example_weight).sum(1) / example_weight.sum(1)
            else:
                per_replica = losses.mean(1)
            optimizer.zero_grad(set_to_none=True)
            # Replicas share no parameter: gradients stay apart (torch leaves it untyped).
            per_replica.sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            scheduler.step()
        progress(replicas)
    out = []
    for r in range(replicas):
        state = dict(states[r])
        for (w, b), weight, bias in zip(keys, weights, biases, strict=True):
            state[w] = weight[r].detach().T.contiguous().to("cpu")
            state[b] = bias[r, 0].detach().contiguous().to("cpu")
        out.append(state)
    return out


def replica_trainer(spec: ModelSpec, device: str) -> str:
    """How `train_replicas` trains several `spec` models on `device` by default: `stacked`
    (MLPs), `vmapped` (other architectures), or `alone` (ResNets on CPU, one after another).
    The reference cache keys on it where it is `alone`, the path added last."""
    if spec.name == "mlp":
        return "stacked"
    if spec.name in ALONE_ON_CPU and not device.startswith("cuda"):
        return "alone"
    return "vmapped"


def train_replicas(
    spec: ModelSpec,
    recipe: TrainRecipe,
    data: TrainData,
    *,
    seeds: Sequence[int],
    device: str = "cpu",
    stacked: bool | None = None,
    progress: Progress | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Train one model per seed; CPU weights out. `stacked`: True batches, False trains one
    at a time, None (the default) does what `replica_trainer` says for `spec` and `device`.

    Batched: MLPs as a stacked ensemble (batched matmuls), other architectures vmapped
    (``harness.reference.ensemble``); both agree with one-at-a-time training up to float rounding.
    """
    if stacked is None:
        stacked = replica_trainer(spec, device) != "alone"
    total = len(seeds) * recipe.epochs
    done = 0

    def advance(model_epochs: int) -> None:
        nonlocal done
        done += model_epochs
        if progress is not None:
            progress(done, total)

    if stacked and spec.name != "mlp":
        vmapped: list[dict[str, torch.Tensor]] = []
        chunk_size = VMAP_CHUNK.get(spec.name, STACK_CHUNK)
        for start in range(0, len(seeds), chunk_size):
            vmapped += train_vmapped(
                spec,
                recipe,
                data,
                seeds=list(seeds[start : start + chunk_size]),
                device=device,
                progress=advance,
            )
        return vmapped
    if stacked:
        states: list[dict[str, torch.Tensor]] = []
        for start in range(0, len(seeds), STACK_CHUNK):
            chunk = list(seeds[start : start + STACK_CHUNK])
            states += _train_stacked_mlp(
                spec, recipe, data, seeds=chunk, device=device, progress=advance
            )
        return states
    out = []
    for seed in seeds:
        state, _ = train_model(
            spec, recipe, data, seed=seed, device=device, progress=lambda e, _t: advance(1)
        )
        out.append(state)
    return out
