# Sends a whole result frame of its own on the runner's pipe (descriptor 3), then goes on
# working: that frame is the run's result, and the run is over once it is in.
import json
import os
import time


def unlearning(net, retain_loader, forget_loader, val_loader):
    claim = {"ok": False, "category": "exception", "message": "sent early"}
    line = json.dumps(claim).encode() + b"\n"
    os.write(3, len(line).to_bytes(8, "big") + line)
    time.sleep(30)  # work that would come after the result: it never counts
