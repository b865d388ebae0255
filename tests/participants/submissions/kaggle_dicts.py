"""Kaggle 2023 style: dict batches, a global DEVICE, tqdm.notebook, a print per epoch."""

import torch
from torch import nn, optim
from tqdm.notebook import tqdm

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def unlearning(net, retain_loader, forget_loader, val_loader):
    epochs = 1
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    net.train()
    for epoch in tqdm(range(epochs)):
        for sample in retain_loader:
            inputs = sample["image"].to(DEVICE)
            targets = sample["age_group"].to(DEVICE)
            assert sample["person_id"].shape == targets.shape
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}")
    net.eval()
