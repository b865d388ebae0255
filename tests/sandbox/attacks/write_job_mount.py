# Attack: change the inputs: overwrite the original weights, delete data, replace the job
# config so the runner runs fewer seeds. The job folder is mounted read-only.
# expect: ok
import os


def probe():
    escapes = []
    for path in ("/job/config.json", "/job/original.safetensors", "/job/data.safetensors"):
        try:
            with open(path, "r+b") as handle:
                handle.write(b"x")
            escapes.append(f"wrote {path}")
        except OSError:
            pass
        try:
            os.rename(path, path + ".moved")
            escapes.append(f"renamed {path}")
        except OSError:
            pass
    try:
        open("/job/new-file", "w").close()
        escapes.append("created /job/new-file")
    except OSError:
        pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
