"""Random labels ("RL"): train the forget set towards random classes, then repair on retain.

Source: Golatkar, Achille and Soatto, "Eternal Sunshine of the Spotless Net", arXiv 1911.04933
(as a baseline); recipe as run by Fan et al., "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency", ICLR 2024, arXiv 2310.12508 (OPTML-Group/Unlearn-Saliency,
`unlearn/RL.py`). SalUn is this method restricted to salient weights.

Recipe (OPTML, CIFAR-10 branch): every epoch is one pass over the forget set with labels drawn
uniformly at random (fresh for every batch), then one pass over the retain set with the true
labels; cross-entropy, SGD lr 0.013, momentum 0.9, weight decay 5e-4, 10 epochs. Kept: the
two-phase epoch, the loss, the optimiser. Changed: the retain phase of each epoch is
EPOCHS / ROUNDS of a pass, so that a run fits the efficiency gate (about 20% of a retraining).

Runs differ through the random labels and the loaders' shuffling (all seeded by the harness).

Measured on the embedded default: calibrated F 0.450, score 0.460;
neurips2023 F 0.010, score 0.010; efficiency 0.09 (64 runs; starting_kit/BASELINES.md).
"""

import itertools
import math

import torch
from torch import nn
from torch.utils.data import DataLoader

EPOCHS = 4.0  # total passes over the retain set; the gate allows about 20% of a retraining
ROUNDS = 2  # forget-then-retain rounds (the authors' "epochs")
LR = 0.013
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
    """Alternate random-label passes over forget with true-label steps on retain, in place."""
    device = next(net.parameters()).device
    retain_steps = max(1, math.ceil(EPOCHS * len(retain_loader) / ROUNDS))
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    retain_batches = _batches_forever(retain_loader)
    for _ in range(ROUNDS):
        for inputs, _targets in forget_loader:
            inputs = inputs.to(device)
            logits = net(inputs)
            random_targets = torch.randint(0, logits.shape[1], (len(inputs),), device=device)
            optimizer.zero_grad()
            loss_fn(logits, random_targets).backward()
            optimizer.step()
        for inputs, targets in itertools.islice(retain_batches, retain_steps):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss_fn(net(inputs), targets).backward()
            optimizer.step()
