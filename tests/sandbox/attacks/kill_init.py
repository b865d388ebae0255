# Attack: kill the container's init and the runner (same uid inside), to end the run in a
# state the trusted side might misread. The runner is pid 1 of the container: a signal from
# inside its namespace that it has no handler for is dropped, so it survives and goes on;
# the run that killed itself fails.
# expect: exception, exception
import os
import signal


def unlearning(net, retain_loader, forget_loader, val_loader):
    os.kill(1, signal.SIGKILL)
    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
