# Attack: find a way out — any network interface but loopback, or any route.
# expect: ok
# control: escapes
def probe():
    escapes = []
    with open("/proc/net/dev") as handle:
        interfaces = [line.split(":")[0].strip() for line in handle.readlines()[2:]]
    if interfaces != ["lo"]:
        escapes.append(f"interfaces {interfaces}")
    with open("/proc/net/route") as handle:
        routes = handle.readlines()[1:]
    if routes:
        escapes.append(f"{len(routes)} IPv4 routes")
    with open("/proc/net/ipv6_route") as handle:
        routes6 = [line for line in handle if line.split()[-1] != "lo"]
    if routes6:
        escapes.append(f"{len(routes6)} IPv6 routes")
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
