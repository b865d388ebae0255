"""Writes a checkpoint into the scratch folder (TMPDIR) and reads it back, and imports the
libraries 2023 submissions used besides torch."""

import os
import tempfile

import numpy as np
import pandas as pd
import scipy.special
import sklearn.metrics
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    path = os.path.join(tempfile.gettempdir(), "unlearn-checkpoint.pt")
    assert not os.path.exists(path), "a previous seed's checkpoint is still there"
    torch.save(net.state_dict(), path)
    net.load_state_dict(torch.load(path))
    losses = []
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for inputs, targets in retain_loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    frame = pd.DataFrame({"loss": losses})
    assert np.isfinite(scipy.special.logsumexp(frame["loss"].to_numpy()))
    assert sklearn.metrics.accuracy_score([0, 1], [0, 1]) == 1.0
    os.remove(path)
