# Attack: send the runner a result whose claim is JSON nested 100000 levels deep (and leave
# such a status file in /out), so that a json.loads raises RecursionError (once handled as
# our failure, retried and refunded). The runner reads it as an unreadable result, and the
# trusted side calls that invalid output: the submission's fault, charged.
# expect: invalid_output, invalid_output
# message: could not be read
import os


def unlearning(net, retain_loader, forget_loader, val_loader):
    with open("/out/status.json", "w") as handle:
        handle.write("[" * 100_000 + "]" * 100_000)
    # fd 3: the run's result pipe; a whole frame (8-byte big-endian length, then the claim
    # line), so that the claim itself is read and parsed, not refused as a short frame.
    line = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    os.write(3, len(line).to_bytes(8, "big") + line)
    os._exit(0)
