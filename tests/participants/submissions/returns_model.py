"""Trains a copy and returns it: the returned model's weights are the ones scored."""

import copy

import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def unlearning(net, retain_loader, forget_loader, val_loader):
    model = copy.deepcopy(net).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for inputs, targets in retain_loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs.to(DEVICE)), targets.to(DEVICE))
        loss.backward()
        optimizer.step()
    return model
