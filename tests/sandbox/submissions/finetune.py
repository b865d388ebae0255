# A well-behaved submission: a few SGD steps on the retain set, drawing on every source of
# randomness (loader order, dropout-like noise) so that seeds give different weights.
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for inputs, targets in retain_loader:
        noise = torch.randn_like(inputs) * 0.1
        loss = torch.nn.functional.cross_entropy(net(inputs + noise), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
