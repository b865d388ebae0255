"""Extra parameters with defaults, keyword-only ones with defaults, a decorated helper, and
the entry point bound by assignment, as one 2023 submission did."""

import functools

import torch


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        print(f"calling {fn.__name__}")
        return fn(*args, **kwargs)

    return wrapper


@logged
def unlearning_by_neutralizing_labels(
    net, retain_loader, forget_loader, val_loader, lr=0.01, teacher=None, *, epochs=1
):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(epochs):
        for inputs, _ in forget_loader:
            optimizer.zero_grad()
            logits = net(inputs)
            uniform = torch.full_like(logits, 1.0 / logits.shape[1])
            torch.nn.functional.cross_entropy(logits, uniform).backward()
            optimizer.step()


unlearning = unlearning_by_neutralizing_labels
