# Attack: find a route to the outside world. connect() on a UDP socket only looks up a route
# and sends nothing, so this is safe even when confinement is off (TEST-NET addresses).
# expect: ok
# control: escapes
import socket

TARGETS = [(socket.AF_INET, ("192.0.2.1", 9)), (socket.AF_INET6, ("2001:db8::1", 9))]


def probe():
    escapes = []
    for family, address in TARGETS:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.connect(address)
            escapes.append(f"route to {address[0]}")
        except OSError:
            pass
        finally:
            sock.close()
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
