"""Replicas of any architecture trained as one batched ensemble (torch.func.vmap).

    train_vmapped(spec, recipe, data, seeds=[...]) -> [state dict, ...]

Each replica's parameters and buffers are stacked along a new first axis; one
``functional_call`` of the architecture runs under ``vmap`` over that axis, so R replicas
take one forward and one backward per step instead of R (convolutions become one grouped
convolution; BatchNorm's running statistics are stacked buffers that each replica updates
with its own batch). Every replica keeps what ``train.train_model`` gives it alone, through
the pieces both take from ``recipe.py``: the initial weights of its seed (``init_state``),
its seed's batch order (read from a loader built like the real one), the same loss
(class-weighted mean cross-entropy) and an element-wise optimizer (SGD or Adam over the
stacked tensors equals R optimizers), so the results agree with one-at-a-time training up
to float rounding (tests/harness/test_train.py).

Used by ``train.train_replicas`` for the CNN and the ResNet; the MLP has its own stacked
path (``train._train_stacked_mlp``, batched matmuls). Measured in bench/bench_train.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from harness.data.batches import shuffled_loader
from harness.models import ModelSpec, build_model
from harness.phase import TrainRecipe
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

__all__ = ["train_vmapped"]


def train_vmapped(
    spec: ModelSpec,
    recipe: TrainRecipe,
    data: TrainData,
    *,
    seeds: Sequence[int],
    device: str,
    progress: Callable[[int], None],
) -> list[dict[str, torch.Tensor]]:
    """Train one replica per seed as one vmapped ensemble; CPU state dicts out, seed order.

    `progress` is called with the replica count after every epoch (model-epochs done).
    """
    x_all, y_all, num_classes = data.x, data.y, data.num_classes
    skeleton = build_model(spec).to(device).train()  # its own weights are never used
    states = [init_state(spec, seed) for seed in seeds]
    keys = list(states[0])
    param_names = [name for name, _ in skeleton.named_parameters()]
    buffer_names = [name for name, _ in skeleton.named_buffers()]
    params = {
        name: torch.stack([s[name] for s in states]).to(device).requires_grad_()
        for name in param_names
    }
    buffers = {name: torch.stack([s[name] for s in states]).to(device) for name in buffer_names}
    weight = class_weights(y_all, num_classes).to(device) if recipe.class_weighted else None
    x, y = x_all.to(device), y_all.to(device)
    n = len(y)

    def replica_loss(
        replica_params: dict[str, torch.Tensor],
        replica_buffers: dict[str, torch.Tensor],
        inputs: torch.Tensor,
        targets: torch.Tensor,
    ) -> torch.Tensor:
        logits = functional_call(skeleton, (replica_params, replica_buffers), (inputs,))
        return F.cross_entropy(logits, targets, weight=weight)

    ensemble_loss = vmap(replica_loss, in_dims=(0, 0, 0, 0))
    skip_single = has_batch_norm(skeleton)
    index_loaders = [
        shuffled_loader(
            (torch.arange(n),),
            batch_size=recipe.batch_size,
            generator=torch.Generator().manual_seed(seed),
        )
        for seed in seeds
    ]
    optimizer = make_optimizer(list(params.values()), recipe, fused=True)
    scheduler = make_scheduler(
        optimizer, recipe, recipe.epochs * steps_per_epoch(n, recipe.batch_size)
    )
    for _ in range(recipe.epochs):
        order = torch.stack([epoch_order(loader) for loader in index_loaders]).to(device)
        for start in range(0, n, recipe.batch_size):
            index = order[:, start : start + recipe.batch_size]  # [R, B]
            if skip_single and index.shape[1] == 1:
                continue
            losses = ensemble_loss(params, buffers, x[index], y[index])  # [R]
            optimizer.zero_grad(set_to_none=True)
            # Replicas share no parameter: gradients stay apart (torch leaves it untyped).
            losses.sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            scheduler.step()
        progress(len(seeds))
    tensors = {**params, **buffers}
    return [
        {key: tensors[key][r].detach().to("cpu").clone() for key in keys} for r in range(len(seeds))
    ]
