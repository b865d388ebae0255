# Attack: read the host's files: the repository, the shared data, Docker's state, keys, and
# the image's own secrets. None of the host paths exist inside; /etc/shadow is unreadable.
# expect: ok
import os

HOST_PATHS = [
    "/work",
    "/var/lib/docker",
    "/etc/docker",
    "/root/.ssh",
    "/var/cache/unlearn-sandbox",
    "/home",
    "/srv",
    "/data",
    "/tmp/unlearn-sandbox",
    "/var/run/postgresql",
    "/var/run/redis",
]


def probe():
    escapes = []
    for path in HOST_PATHS:
        if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            escapes.append(f"host path visible: {path}")
    try:
        with open("/etc/shadow") as handle:
            handle.read()
        escapes.append("read /etc/shadow")
    except OSError:
        pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
