# Attack: forge the status file and a metrics file: claim every seed succeeded in no time
# with perfect scores, while leaving weights for the first seed only. The trusted side reads
# the weight files; the status only words errors.
# expect: ok, invalid_output
# message: left no weights
import json
import sys

runner = sys.modules["__main__"]
_real_write_status = runner.write_status
_real_save = runner.save_weights
_saved = []


def _save_first_only(net, path):
    if not _saved:
        _saved.append(path)
        _real_save(net, path)


def _forged_status(out, statuses):
    seeds = json.loads(open("/job/config.json").read())["seeds"]
    forged = {str(s): {"ok": True, "seconds": 0.001, "accuracy": 1.0, "score": 1.0} for s in seeds}
    (out / "status.json").write_text(json.dumps(forged))
    (out / "metrics.json").write_text(json.dumps({"forget_quality": 1.0, "score": 1.0}))


def unlearning(net, retain_loader, forget_loader, val_loader):
    runner.save_weights = _save_first_only
    runner.write_status = _forged_status
