# Attack: leave a hard link as the weights file (a link to a file elsewhere on the output
# filesystem). The collector refuses files with more than one link.
# expect: invalid_output
# message: hard link
import os
import sys

from safetensors.torch import save_file


def _hard_link(net, path):
    elsewhere = os.path.join(os.path.dirname(path), "elsewhere.bin")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, elsewhere)
    os.link(elsewhere, path)


def unlearning(net, retain_loader, forget_loader, val_loader):
    sys.modules["__main__"].save_weights = _hard_link
