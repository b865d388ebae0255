# Attack: reach the host's loopback services (Redis, PostgreSQL, the API, a Docker TCP port).
# Inside the container 127.0.0.1 is the container's own loopback: every connect() is refused.
# expect: ok
import socket

PORTS = {"redis": 6379, "postgres": 5432, "api": 8000, "docker-tcp": 2375, "flower": 5555}


def probe():
    escapes = []
    for name, port in PORTS.items():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            escapes.append(f"connected to {name} on 127.0.0.1:{port}")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
