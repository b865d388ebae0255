"""Kaggle 2023 style with the device as a required argument, as some notebooks called their
own `unlearning(net, retain_loader, forget_loader, val_loader, DEVICE)`."""

from torch import nn, optim


def unlearning(net, retain_loader, forget_loader, val_loader, device):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net.train()
    for sample in retain_loader:
        inputs = sample["image"].to(device)
        targets = sample["age_group"].to(device)
        optimizer.zero_grad()
        criterion(net(inputs), targets).backward()
        optimizer.step()
    print(f"trained on {device}")
    net.eval()
