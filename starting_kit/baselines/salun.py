"""SalUn: random labels, but only the weights most salient to the forget set may change.

Source: Fan, Liu, Zhang, Wei, Wong and Liu, "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024,
arXiv 2310.12508 (OPTML-Group/Unlearn-Saliency, `generate_mask.py`, `unlearn/RL.py`).

Recipe (authors): (1) the saliency mask: one pass over the forget set in eval mode
accumulates the gradient of -CE; take its absolute value, rank it globally across all
parameters and keep the top MASK_FRACTION = 50%. (2) random labels (see random_labels.py):
each epoch a forget pass with uniformly random labels, then a retain pass with true labels,
SGD lr 0.013, momentum 0.9, weight decay 5e-4, 10 epochs; gradients are multiplied by the
mask, and weights outside it stay at their original values. Kept: all of that, over every
parameter tensor (no layer names, so it runs on an MLP and on resnet18 alike). Changed: each
retain pass covers EPOCHS / ROUNDS of the retain set, so that a run fits the efficiency gate
(about 20% of a retraining).

Runs differ through the random labels and the loaders' shuffling; the mask itself is the
same in every run (it depends on the original model only).

Measured on the embedded default: calibrated F 0.437, score 0.446;
neurips2023 F 0.010, score 0.010; efficiency 0.13 (64 runs; starting_kit/BASELINES.md).
"""

import itertools
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

EPOCHS = 4.0  # total passes over the retain set; the gate allows about 20% of a retraining
ROUNDS = 2  # forget-then-retain rounds (the authors' "epochs")
MASK_FRACTION = 0.5  # share of all weights, by forget-gradient magnitude, allowed to change
LR = 0.013
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def _batches_forever(loader: DataLoader):
    """Cycle through `loader`, reshuffling at every pass (unlike itertools.cycle)."""
    while True:
        yield from loader


def _saliency_masks(net: torch.nn.Module, forget_loader: DataLoader) -> list[torch.Tensor]:
    """Boolean masks, one per parameter: True for the globally top MASK_FRACTION |grad -CE|."""
    device = next(net.parameters()).device
    parameters = list(net.parameters())
    net.eval()
    net.zero_grad()
    for inputs, targets in forget_loader:
        inputs, targets = inputs.to(device), targets.to(device)
        (-nn.functional.cross_entropy(net(inputs), targets)).backward()
    magnitudes = [
        p.grad.abs().flatten() if p.grad is not None else torch.zeros(p.numel(), device=device)
        for p in parameters
    ]
    sizes = [p.numel() for p in parameters]
    pooled = torch.cat(magnitudes)
    keep = max(1, int(MASK_FRACTION * pooled.numel()))
    # Exactly `keep` weights by rank, so ties (e.g. the zero gradients of dead ReLUs) cannot
    # let more than MASK_FRACTION through.
    selected = torch.zeros(pooled.numel(), dtype=torch.bool, device=device)
    selected[torch.topk(pooled, keep, sorted=False).indices] = True
    net.zero_grad()
    net.train()
    return [
        chunk.reshape(p.shape) for p, chunk in zip(parameters, selected.split(sizes), strict=True)
    ]


def unlearning(
    net: torch.nn.Module,
    retain_loader: DataLoader,
    forget_loader: DataLoader,
    val_loader: DataLoader,
) -> None:
    """Random-label unlearning restricted to the forget-salient half of the weights."""
    device = next(net.parameters()).device
    parameters = list(net.parameters())
    masks = _saliency_masks(net, forget_loader)
    originals = [p.detach().clone() for p in parameters]
    optimizer = torch.optim.SGD(parameters, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()

    def masked_step(loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        for p, mask in zip(parameters, masks, strict=True):
            if p.grad is not None:
                p.grad.mul_(mask)
        optimizer.step()
        with torch.no_grad():  # weight decay and momentum must not move frozen weights
            for p, mask, original in zip(parameters, masks, originals, strict=True):
                p.copy_(torch.where(mask, p, original))

    retain_steps = max(1, math.ceil(EPOCHS * len(retain_loader) / ROUNDS))
    retain_batches = _batches_forever(retain_loader)
    net.train()
    for _ in range(ROUNDS):
        for inputs, _targets in forget_loader:
            inputs = inputs.to(device)
            logits = net(inputs)
            random_targets = torch.randint(0, logits.shape[1], (len(inputs),), device=device)
            masked_step(loss_fn(logits, random_targets))
        for inputs, targets in itertools.islice(retain_batches, retain_steps):
            inputs, targets = inputs.to(device), targets.to(device)
            masked_step(loss_fn(net(inputs), targets))
