# Attack: run once and reuse that result for every later seed (to save time), by patching
# the runner's per-seed function to hand back the first seed's weights. Each seed runs in its
# own process, loaded fresh, so there is never a first result to reuse: every seed runs.
# The test checks that the seeds' weights differ. (Had it worked, the weights would still be
# accepted: the scoring rule punishes identical models, epsilon = 50 on every example.)
# expect: ok, ok
import sys

runner = sys.modules["__main__"]
_real_run_seed = runner._run_seed
_first = []


def _reuse(fn, files, seed, *inputs):
    if not _first:
        _first.append(_real_run_seed(fn, files, seed, *inputs))
    return _first[0]


runner._run_seed = _reuse


def unlearning(net, retain_loader, forget_loader, val_loader):
    import torch

    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
