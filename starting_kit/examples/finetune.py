"""Baseline: fine-tune on the retain set only (the 2023 starting kit's example).

As in the NeurIPS 2023 starting kit: a few epochs of SGD (lr 0.1, momentum 0.9, weight
decay 5e-4, cosine schedule over the epochs) with cross-entropy on `retain_loader`; the
forget set is never looked at. Here 3 epochs instead of the kit's 5, to stay within the
efficiency gate on the embedded default (40 training epochs; the gate is 20% of one
retraining). The forget set is only forgotten to the extent that fitting the retain set
overwrites it, so it scores above do_nothing and well below retraining.
"""

import torch
from torch import nn

EPOCHS = 3


def unlearning(net, retain_loader, forget_loader, val_loader):
    device = next(net.parameters()).device
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    net.train()
    for _ in range(EPOCHS):
        for inputs, targets in retain_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
        scheduler.step()
    net.eval()
