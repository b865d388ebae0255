# Attack: run once and reuse that result for every seed (to save time). Accepted as what the
# submission produced: the trusted side does not care how weights were made, and the scoring
# rule punishes identical models (a collapsed range gives epsilon = 50 on every example).
# The test checks that the weights of all seeds come back identical.
# expect: ok, ok
import shutil
import sys

runner = sys.modules["__main__"]
_real_run_seed = runner._run_seed
_first = []


def _reuse(fn, files, seed, out):
    if not _first:
        status = _real_run_seed(fn, files, seed, out)
        _first.append(out / runner.weights_file_name(seed))
        return status
    shutil.copyfile(_first[0], out / runner.weights_file_name(seed))
    return runner.SeedStatus(ok=True, seconds=0.0)


runner._run_seed = _reuse


def unlearning(net, retain_loader, forget_loader, val_loader):
    import torch

    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
