# Output attack: weights far larger than the architecture needs (to exhaust the trusted
# side's memory or disk). They are refused by size before they are parsed.
# expect: invalid_output
# message: exceeds the limit
import sys

import torch
from safetensors.torch import save


def _oversized(state):
    state = {k: v.contiguous() for k, v in state.items()}
    state["padding"] = torch.zeros(8 * 1024 * 1024)  # 32 MiB
    return save(state)


def unlearning(net, retain_loader, forget_loader, val_loader):
    sys.modules["__main__"].state_to_bytes = _oversized
