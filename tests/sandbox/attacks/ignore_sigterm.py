# Attack: ignore SIGTERM and keep computing, so that a polite stop never ends the run.
# SIGKILL follows after the grace period.
# expect: timeout
import signal


def unlearning(net, retain_loader, forget_loader, val_loader):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    x = 0
    while True:
        x += 1
