# The hole-2 exploit against the median: every seed's retraining (1.7 s each, 170% of the
# tests' 1 s retraining) happens in the first seed's call; the other calls return at once.
import json
import time

_SEEDS = len(json.loads(open("/job/config.json").read())["seeds"])
_CALLS = []


def unlearning(net, retain_loader, forget_loader, val_loader):
    _CALLS.append(1)
    if len(_CALLS) == 1:
        time.sleep(1.7 * _SEEDS)
