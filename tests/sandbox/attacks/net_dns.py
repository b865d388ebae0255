# Attack: resolve names (a DNS exfiltration channel). Tried only when no route exists, so
# no query can leave the container.
# expect: ok
# control: escapes
import socket


def _has_route():
    with open("/proc/net/route") as handle:
        return len(handle.readlines()) > 1


def probe():
    if _has_route():
        return ["a route exists: a resolver is reachable"]
    escapes = []
    for name in ("example.com", "pypi.org", "redis", "host.docker.internal"):
        try:
            socket.getaddrinfo(name, 80)
            escapes.append(f"resolved {name}")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
