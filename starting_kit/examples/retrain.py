"""The oracle: re-initialise every layer and train from scratch on the retain set.

It repeats the embedded default's training recipe (Adam, lr 1e-3, no weight decay, 40
epochs, batch 64), so its models follow the retrained reference's distribution and it
scores about as well as a perfect unlearner can under the estimator (near the noise floor).
It costs a whole retraining per run, so it FAILS the efficiency gate by design (a run may
take at most 20% of one retraining): a competition would reject it. Use it to see what the
top of the scale looks like.
"""

import torch
from torch import nn

EPOCHS = 40
LR = 1e-3


def unlearning(net, retain_loader, forget_loader, val_loader):
    device = next(net.parameters()).device
    for module in net.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    net.train()
    for _ in range(EPOCHS):
        for inputs, targets in retain_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
    net.eval()
