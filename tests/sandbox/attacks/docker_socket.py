# Attack: find a container-runtime socket (Docker, containerd) to start a privileged
# sibling container.
# expect: ok
import os

SOCKETS = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
]


def probe():
    escapes = [f"socket present: {path}" for path in SOCKETS if os.path.exists(path)]
    for root in ("/run", "/var/run", "/tmp"):
        for folder, _, files in os.walk(root):
            escapes += [f"socket file {folder}/{f}" for f in files if f.endswith(".sock")]
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
