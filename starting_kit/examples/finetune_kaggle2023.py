"""Baseline: fine-tune on the retain set only, for a phase whose batches are dicts.

The same method as `finetune.py` (3 epochs of SGD, lr 0.1, momentum 0.9, weight decay 5e-4,
cosine schedule, cross-entropy on `retain_loader`), written for the `kaggle2023` interface of
the 2023 Kaggle template: each batch is a dict whose `image` holds the inputs and
`age_group` the labels. The phase page's starting kit copies it to `submission.py` on such
a phase.
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
        for sample in retain_loader:
            inputs = sample["image"].to(device)
            targets = sample["age_group"].to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
        scheduler.step()
    net.eval()
