# Attack: sleep while the submission is imported, before unlearning() is ever called, far
# past the time limit. The caller's wall clock runs from the hand-over, so it stops it.
# expect: timeout
import time

time.sleep(10**6)


def unlearning(net, retain_loader, forget_loader, val_loader):
    pass
