# The hole-2 exploit: "retrain from scratch" (here 1.7 s per run, 170% of the tests' 1 s
# retraining), after freezing every clock the runner could read, so that each run claims
# 0 s and passes the efficiency gate.
import time

_REAL_SLEEP = time.sleep
_FROZEN = time.perf_counter()


def _frozen(*_args):
    return _FROZEN


def unlearning(net, retain_loader, forget_loader, val_loader):
    for name in ("perf_counter", "monotonic", "time", "process_time"):
        setattr(time, name, _frozen)
        setattr(time, name + "_ns", lambda: int(_FROZEN * 1e9))
    _REAL_SLEEP(1.7)  # stands for the retraining: real wall time, whatever the clocks say
