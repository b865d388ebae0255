# Attack: patch the runner so that only the first seed really runs (the others report
# success without running). Each seed runs in its own process, loaded fresh: every process
# is "the first", so every seed runs, and each needs its own valid weights anyway.
# expect: ok, ok
import sys

runner = sys.modules["__main__"]
_real_run_seed = runner._run_seed
_done = []


def _first_only(fn, files, seed, *inputs):
    if _done:
        return runner.SeedStatus(ok=True, seconds=0.0), None
    _done.append(seed)
    return _real_run_seed(fn, files, seed, *inputs)


runner._run_seed = _first_only


def unlearning(net, retain_loader, forget_loader, val_loader):
    for inputs, _ in retain_loader:
        net(inputs)
        break
