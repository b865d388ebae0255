"""Relies on torchvision ResNet-18 names: re-initialises `net.fc`, freezes `conv1`, and gives
BatchNorm parameters ("bn" in their names) no weight decay. Dict batches (kaggle2023)."""

import torch
from torch import nn

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def unlearning(net, retain_loader, forget_loader, val_loader, lr=0.01):
    nn.init.normal_(net.fc.weight, std=0.01)
    nn.init.zeros_(net.fc.bias)
    net.conv1.weight.requires_grad_(False)
    for block in (net.layer1, net.layer2, net.layer3, net.layer4):
        assert isinstance(block[0].bn1, nn.BatchNorm2d)
    decay = [p for n, p in net.named_parameters() if "bn" not in n and p.requires_grad]
    no_decay = [p for n, p in net.named_parameters() if "bn" in n]
    assert no_decay, "ResNet-18 names its BatchNorm layers bn1, bn2"
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        momentum=0.9,
    )
    for sample in retain_loader:
        optimizer.zero_grad()
        logits = net(sample["image"].to(DEVICE))
        nn.functional.cross_entropy(logits, sample["age_group"].to(DEVICE)).backward()
        optimizer.step()
    net.conv1.weight.requires_grad_(True)
