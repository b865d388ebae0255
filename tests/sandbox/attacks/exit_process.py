# Attack: end the process from inside unlearning() (os._exit skips every handler), hoping the
# missing seeds count as successes or the run as "finished".
# expect: exception
# message: before this seed left weights
import os


def unlearning(net, retain_loader, forget_loader, val_loader):
    os._exit(0)
