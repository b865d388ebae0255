# Attack: leave a daemon behind (double fork + setsid) that outlives unlearning() and could
# tamper with later runs. It dies with the container; the test checks that no such process
# is left on the host and that the container is gone.
# expect: ok
import os


def unlearning(net, retain_loader, forget_loader, val_loader):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "31337"])
        os._exit(0)
    os.wait()
