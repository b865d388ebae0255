# Output attack: add a module (an extra "classifier") so the state dict names change.
# expect: invalid_output
# message: unexpected parameters
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    net.add_module("extra_head", torch.nn.Linear(3, 3))
