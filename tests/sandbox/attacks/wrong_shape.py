# Output attack: change the architecture's shapes (a wider last layer).
# expect: invalid_output
# message: has shape
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    last = net[-1]
    net[-1] = torch.nn.Linear(last.in_features, last.out_features + 5)
