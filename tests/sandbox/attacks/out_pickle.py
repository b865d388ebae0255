# Attack: send the weights as a pickle whose payload runs a command when loaded
# (torch.save with a __reduce__ gadget). The trusted side reads safetensors only.
# expect: invalid_output
# message: not a valid safetensors file
import os
import pickle
import sys


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/pwned-by-pickle",))


def _pickle_instead(state):
    return pickle.dumps({"state": state, "payload": Payload()})


def unlearning(net, retain_loader, forget_loader, val_loader):
    sys.modules["__main__"].state_to_bytes = _pickle_instead
