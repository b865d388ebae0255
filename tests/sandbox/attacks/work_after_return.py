# Attack: return from unlearning() at once and do the work afterwards, while the harness
# saves the weights (a patched state_dict), so that a clock stopped at the return misses it.
# Each run's clock stops only when its whole result has reached the trusted side.
# expect: ok
# min-seconds: 1.4
import time

import torch

_state_dict = torch.nn.Module.state_dict
_WORKED = []


def _slow_state_dict(self, *args, **kwargs):
    if not _WORKED:  # state_dict() recurses into every submodule: work once
        _WORKED.append(True)
        time.sleep(1.5)  # stands for a retraining from scratch
    return _state_dict(self, *args, **kwargs)


def unlearning(net, retain_loader, forget_loader, val_loader):
    torch.nn.Module.state_dict = _slow_state_dict
