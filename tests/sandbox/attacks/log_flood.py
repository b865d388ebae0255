# Attack: flood the log (to fill the host's disk through Docker's log files, or to bury the
# runner's messages). The log driver caps the file; the excerpt shown is capped too.
# expect: ok
import sys

LINE = "x" * 1023 + "\n"


def unlearning(net, retain_loader, forget_loader, val_loader):
    for _ in range(64 * 1024):  # 64 MiB to stdout
        sys.stdout.write(LINE)
    sys.stdout.flush()
