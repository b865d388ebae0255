# Attack: leave a hard link as the weights file (a link to a file elsewhere on the output
# filesystem). The runner empties /out after the run and writes the weights the run sent
# itself; in the shared-process mode the collector refuses files with more than one link.
# expect: ok
import os

from safetensors.torch import save_file


def unlearning(net, retain_loader, forget_loader, val_loader):
    elsewhere = "/out/elsewhere.bin"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, elsewhere)
    for seed in range(4):
        os.link(elsewhere, f"/out/seed-{seed}.safetensors")
