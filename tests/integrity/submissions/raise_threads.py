# The exploit: raise torch's thread count (and OpenMP's) past the job's, to get more CPU than
# the retraining it is compared with was timed under. Works for a fixed 1.5 s of wall time
# and prints the CPU seconds it got per wall second, and the container's CPU quota in CPUs
# (cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, or v2 cpu.max; -1 for none).
import os
import resource
import time

import torch


def _quota():
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()
        return -1.0 if quota == "max" else int(quota) / int(period)
    except OSError:
        pass
    with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as handle:
        quota = int(handle.read())
    with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as handle:
        period = int(handle.read())
    return -1.0 if quota < 0 else quota / period


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def unlearning(net, retain_loader, forget_loader, val_loader):
    os.environ["OMP_NUM_THREADS"] = "4"
    torch.set_num_threads(4)
    a = torch.randn(384, 384)
    cpu, started = _cpu(), time.monotonic()
    while time.monotonic() - started < 1.5:
        a = torch.tanh(a @ a)
    wall = time.monotonic() - started
    print(f"THREADS {torch.get_num_threads()}", flush=True)
    print(f"CPU_PER_WALL {(_cpu() - cpu) / wall:.3f}", flush=True)
    print(f"QUOTA_CPUS {_quota()}", flush=True)
