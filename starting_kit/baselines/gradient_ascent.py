"""Gradient ascent on the forget set ("GA", also called NegGrad).

Source: Thudi et al., "Unrolling SGD: Understanding Factors Influencing Machine Unlearning",
arXiv 2109.13398; recipe as run by Jia et al., "Model Sparsity Can Simplify Machine
Unlearning", arXiv 2304.04934 (OPTML-Group/Unlearn-Sparse, `--unlearn GA`).

Recipe (OPTML): maximise the cross-entropy of the forget set only (loss = -CE), SGD lr 1e-4,
momentum 0.9, weight decay 5e-4, 5 epochs over the forget set. Kept as published: the forget
set is small (a few percent of the training set), so 5 passes cost far less than the
efficiency gate allows.

What to expect: ascent has no anchor on the retain set, so at larger learning rates it wrecks
utility; at the published rate it barely moves the model, and the runs, which differ only in
the order of forget batches, stay almost identical: the scorer sees a spike and gives few
points. Both failure modes are why NegGrad+ adds a retain term.

Measured on the embedded default: calibrated F 0.000, score 0.000;
neurips2023 F 0.000, score 0.000; efficiency 0.01 (64 runs; starting_kit/BASELINES.md).
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

EPOCHS = 5  # passes over the forget set
LR = 1e-4
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def unlearning(
    net: torch.nn.Module,
    retain_loader: DataLoader,
    forget_loader: DataLoader,
    val_loader: DataLoader,
) -> None:
    """Ascend the forget set's cross-entropy for EPOCHS passes, in place."""
    device = next(net.parameters()).device
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(EPOCHS):
        for inputs, targets in forget_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            (-loss_fn(net(inputs), targets)).backward()
            optimizer.step()
