# Attack: do the work of every seed in the first call of unlearning() and return at once
# from the others, so that the median per-seed time is about 0 s. Each seed runs in its own
# process, so every call is a first call: every seed pays for the work, timed by the runner.
# expect: ok, ok, ok
# min-seconds: 0.9
import time

_CALLS = []


def unlearning(net, retain_loader, forget_loader, val_loader):
    _CALLS.append(1)
    if len(_CALLS) == 1:
        time.sleep(1.0)  # the work, done in whichever call comes first in this process
