# Attack: leave finite weights so large (1e25) that the model's logits overflow to infinity,
# so that the trusted side's evaluation fails (once a ValueError, handled as our failure).
# The weights pass the file checks; their logits are not finite: invalid output.
# expect: ok
# evaluated: invalid_output
# message: logits on the forget set are not finite
import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.fill_(1e25)
