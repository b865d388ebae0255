# Output attack: a weights file far larger than the architecture needs (to exhaust the
# trusted side's memory or disk). It is refused by size before it is parsed.
# expect: invalid_output
# message: exceeds the limit
import sys

import torch
from safetensors.torch import save_file


def _oversized(net, path):
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    state["padding"] = torch.zeros(8 * 1024 * 1024)  # 32 MiB
    save_file(state, path)


def unlearning(net, retain_loader, forget_loader, val_loader):
    sys.modules["__main__"].save_weights = _oversized
