# Attack: do the work of every seed in the first seed's call and return at once from the
# others, so that the median of the runner's per-seed times is about 0 s. Outside timing
# gives every seed its share of the container's wall time instead.
# expect: ok, ok, ok
# min-seconds: 0.9
import time

_CALLS = []


def unlearning(net, retain_loader, forget_loader, val_loader):
    _CALLS.append(1)
    if len(_CALLS) == 1:
        time.sleep(3.0)  # three retrainings' worth, all in seed 0
