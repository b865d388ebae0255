# Attack: a fork bomb. Every process forks until fork() fails, then sleeps; the process
# limit (--pids-limit) stops it, the run fails with an exception, the host stays healthy.
# expect: exception
# message: Resource temporarily unavailable
import os
import time


def _bomb():
    while True:
        try:
            if os.fork() == 0:
                continue  # the child keeps forking too
        except OSError:
            time.sleep(60)
            os._exit(0)


def unlearning(net, retain_loader, forget_loader, val_loader):
    children = 0
    while True:
        pid = os.fork()  # raises BlockingIOError once the limit is reached
        if pid == 0:
            _bomb()
        children += 1
