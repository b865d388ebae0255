# Attack: reach the Docker bridge gateway, the cloud metadata endpoint and a private range
# by TCP. Tried only when no route exists, so the attempt fails inside the kernel.
# expect: ok
# control: escapes
import socket

TARGETS = [("172.17.0.1", 6379), ("169.254.169.254", 80), ("10.0.0.1", 5432)]


def _has_route():
    with open("/proc/net/route") as handle:
        return len(handle.readlines()) > 1


def probe():
    if _has_route():
        return ["a route exists: internal hosts are reachable"]
    escapes = []
    for address in TARGETS:
        try:
            socket.create_connection(address, timeout=1).close()
            escapes.append(f"connected to {address}")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
