# Attack: forge the status: claim success in no time with perfect scores while sending no
# weights for odd seeds, and write a status and a metrics file of its own into /out. The
# runner empties /out after every run and writes the files itself; the trusted side reads
# the weight files, and the claim only words errors.
# expect: ok, invalid_output
# message: left no weights
import json
import sys

runner = sys.modules["__main__"]
_real_run_seed = runner._run_seed


def _claim_without_weights(fn, files, seed, *inputs):
    status, weights = _real_run_seed(fn, files, seed, *inputs)
    return runner.SeedStatus(ok=True, seconds=0.001), (weights if seed % 2 == 0 else None)


runner._run_seed = _claim_without_weights


def unlearning(net, retain_loader, forget_loader, val_loader):
    seeds = json.loads(open("/job/config.json").read())["seeds"]
    forged = {str(s): {"ok": True, "seconds": 0.001, "accuracy": 1.0, "score": 1.0} for s in seeds}
    with open("/out/status.json", "w") as handle:
        handle.write(json.dumps(forged))
    with open("/out/metrics.json", "w") as handle:
        handle.write(json.dumps({"forget_quality": 1.0, "score": 1.0}))
