# Attack: leave symbolic links in the output folder instead of weights, pointing at files
# the trusted side could leak (its environment, /etc/shadow), so that the collector copies
# them out. The collector opens with O_NOFOLLOW and refuses anything but a regular file.
# expect: invalid_output
# message: cannot be read as a plain file
import os
import sys


def _link_instead(net, path):
    os.symlink("/proc/self/environ", path)


def unlearning(net, retain_loader, forget_loader, val_loader):
    sys.modules["__main__"].save_weights = _link_instead
