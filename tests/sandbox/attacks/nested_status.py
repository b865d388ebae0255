# Attack: replace the status file with JSON nested 100000 levels deep, so that the trusted
# side's json.loads raises RecursionError (once handled as our failure, retried and
# refunded). It is invalid output: the submission's fault, charged.
# expect: invalid_output, invalid_output
# message: nested too deeply
import sys

runner = sys.modules["__main__"]


def _nested_status(out, statuses):
    (out / "status.json").write_text("[" * 100_000 + "]" * 100_000)


def unlearning(net, retain_loader, forget_loader, val_loader):
    runner.write_status = _nested_status
