# Attack: tamper with the image: patch torch in site-packages, drop a binary into /usr/bin,
# edit /etc/passwd, overwrite the runner. The root filesystem is read-only.
# expect: ok
# control: escapes
import glob

TARGETS = ["/usr/bin/unlearn-evil", "/etc/passwd", "/opt/sandbox/harness/checkpoint.py"]


def probe():
    escapes = []
    torch_init = glob.glob("/opt/venv/lib/python3*/site-packages/torch/__init__.py")
    for path in TARGETS + torch_init:
        try:
            with open(path, "a") as handle:
                handle.write("")
            escapes.append(f"opened {path} for writing")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
