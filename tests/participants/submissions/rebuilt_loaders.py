"""Rebuilds its own DataLoaders from `.dataset` and `.batch_size`, wraps them in ConcatDataset,
and returns `net` (its own caller used the return value)."""

import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def unlearning(net, retain_loader, forget_loader, val_loader):
    both = ConcatDataset([retain_loader.dataset, val_loader.dataset])
    loader = DataLoader(both, batch_size=retain_loader.batch_size, shuffle=True)
    assert len(loader) >= len(retain_loader)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for inputs, targets in tqdm(loader, desc="retain+val"):
        inputs, targets = inputs.to(DEVICE), targets.to(DEVICE)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        optimizer.step()
    return net
