# Output attack: leave NaN weights (e.g. a diverged run, or to break the scorer's math).
# expect: invalid_output
# message: NaN
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
