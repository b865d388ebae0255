# Attack: open raw and packet sockets (needs CAP_NET_RAW). Opening sends nothing.
# expect: ok
# control: escapes
import socket


def probe():
    escapes = []
    for family, kind, proto in [
        (socket.AF_PACKET, socket.SOCK_RAW, 0),
        (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    ]:
        try:
            socket.socket(family, kind, proto).close()
            escapes.append(f"opened raw socket family={family}")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
