# Attack: look at the host through /proc: other processes (dockerd, the worker, Redis), extra
# mounts (a host folder or socket mounted in), kernel settings writable only on the host.
# expect: ok
import os

EXPECTED_MOUNT_PREFIXES = (
    "/proc",
    "/dev",
    "/sys",
    "/tmp",
    "/job",
    "/out",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc/hosts",
    "/usr/sbin/docker-init",  # --init bind-mounts the init binary
)
HOST_PROCESSES = ("dockerd", "containerd", "redis-server", "postgres", "celery", "pytest")


def probe():
    escapes = []
    pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    names = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as handle:
                names.append(handle.read().strip())
        except OSError:
            pass
    seen = sorted({name for name in names if name in HOST_PROCESSES})
    if seen:
        escapes.append(f"host processes visible: {seen}")
    if len(pids) > 20:
        escapes.append(f"{len(pids)} processes visible")
    with open("/proc/self/mountinfo") as handle:
        points = {line.split()[4] for line in handle if len(line.split()) > 4}
    unexpected = sorted(p for p in points if p != "/" and not p.startswith(EXPECTED_MOUNT_PREFIXES))
    if unexpected:
        escapes.append(f"unexpected mounts {unexpected}")
    for knob in ("/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches"):
        try:
            with open(knob, "w") as handle:
                handle.write("1")
            escapes.append(f"wrote {knob}")
        except OSError:
            pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
