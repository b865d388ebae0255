# For the dry-run's SIGTERM test: say it is running, then sleep far past any limit.
import time


def unlearning(net, retain_loader, forget_loader, val_loader):
    print("SUBMISSION-SLEEPING", flush=True)
    time.sleep(10**6)
