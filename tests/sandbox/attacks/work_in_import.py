# Attack: do the work while the submission is imported, before unlearning() is called, so
# that a clock started at the call misses it. Each run's clock starts before the import (at
# the hand-over, model and loaders already built): the import is the submission's own work.
# expect: ok
# min-seconds: 1.4
import time

time.sleep(1.5)  # stands for a retraining from scratch


def unlearning(net, retain_loader, forget_loader, val_loader):
    pass
