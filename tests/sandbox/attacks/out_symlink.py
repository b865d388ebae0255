# Attack: leave symbolic links in the output folder instead of weights, pointing at files
# the trusted side could leak (its environment, /etc/shadow), so that the collector copies
# them out. The runner empties /out after the run and writes the files itself; the collector
# opens with O_NOFOLLOW and refuses anything but a regular file besides.
# expect: ok
import os


def unlearning(net, retain_loader, forget_loader, val_loader):
    for seed in range(4):
        os.symlink("/proc/self/environ", f"/out/seed-{seed}.safetensors")
    os.symlink("/etc/shadow", "/out/status.json")
