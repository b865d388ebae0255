# Attack: freeze every clock the runner could read (time.perf_counter, monotonic, time,
# process_time and their _ns forms) before working, so that the run claims 0 s and passes
# the efficiency gate. Run time is measured outside the container: the seconds still count.
# expect: ok
# min-seconds: 1.4
import time

_FROZEN = time.perf_counter()
_REAL_SLEEP = time.sleep


def _frozen(*_args):
    return _FROZEN


def _frozen_ns(*_args):
    return int(_FROZEN * 1e9)


def unlearning(net, retain_loader, forget_loader, val_loader):
    for name in ("perf_counter", "monotonic", "time", "process_time", "thread_time"):
        setattr(time, name, _frozen)
        setattr(time, name + "_ns", _frozen_ns)
    _REAL_SLEEP(1.5)  # stands for a retraining from scratch
