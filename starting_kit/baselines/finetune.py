"""Fine-tune on the retain set only: the 2023 starting kit's baseline.

Source: NeurIPS 2023 Machine Unlearning Challenge starting kit
(github.com/unlearning-challenge/starting-kit, `unlearning-CIFAR10.ipynb`), analysed in
Triantafillou et al., "Are we making progress in unlearning?", arXiv 2406.09073.

Recipe (kit): cross-entropy on the retain set, SGD lr 0.1, momentum 0.9, weight decay 5e-4,
cosine schedule to 0, 5 epochs. Kept here: the optimiser, the schedule and the loss. Changed:
the length, EPOCHS passes over the retain set, so that a run fits the efficiency gate (about
20% of one retraining; see the README's "time budget").

Why it forgets at all: training only on the retain set lets the forget examples drift
towards how a model that never saw them treats them ("catastrophic forgetting"); it never
pushes them away, so it forgets too little when the budget is short.
Runs differ through the retain loader's shuffling, which follows the harness's seed.

Measured on the embedded default: calibrated F 0.539, score 0.410;
neurips2023 F 0.014, score 0.010; efficiency 0.08 (64 runs; starting_kit/BASELINES.md).
"""

import itertools
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

EPOCHS = 4.0  # passes over the retain set; the gate allows about 20% of a retraining
LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def _batches_forever(loader: DataLoader):
    """Cycle through `loader`, reshuffling at every pass (unlike itertools.cycle)."""
    while True:
        yield from loader


def unlearning(
    net: torch.nn.Module,
    retain_loader: DataLoader,
    forget_loader: DataLoader,
    val_loader: DataLoader,
) -> None:
    """Fine-tune `net` in place on the retain set for EPOCHS passes, cosine-annealed."""
    device = next(net.parameters()).device
    steps = max(1, math.ceil(EPOCHS * len(retain_loader)))
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for inputs, targets in itertools.islice(_batches_forever(retain_loader), steps):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss_fn(net(inputs), targets).backward()
        optimizer.step()
        schedule.step()
