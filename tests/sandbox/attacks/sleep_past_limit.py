# Attack: run forever (sleep far past the time limit). The caller's wall clock stops and
# removes the container.
# expect: timeout
import time


def unlearning(net, retain_loader, forget_loader, val_loader):
    time.sleep(10**6)
