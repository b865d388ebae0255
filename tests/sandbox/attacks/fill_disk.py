# Attack: fill the disk: /tmp, /dev/shm, the output folder, many small files. Each is a
# size-capped tmpfs, so writing stops with ENOSPC near the cap (and the host disk is untouched).
# expect: ok
import os

CAP_BYTES = 256 * 1024 * 1024  # the test settings cap each tmpfs at 64 MiB (shm 64 MiB)
CHUNK = b"\0" * (4 * 1024 * 1024)


def _fill(folder):
    written, path = 0, os.path.join(folder, "fill.bin")
    try:
        with open(path, "wb") as handle:
            while written < CAP_BYTES:
                handle.write(CHUNK)
                handle.flush()
                written += len(CHUNK)
    except OSError:
        pass
    finally:
        if os.path.exists(path):
            os.remove(path)
    return written


def probe():
    escapes = []
    for folder in ("/tmp", "/dev/shm", "/out"):
        written = _fill(folder)
        if written >= CAP_BYTES:
            escapes.append(f"wrote {written >> 20} MiB into {folder}")
    try:
        for i in range(20_000):
            open(f"/tmp/small-{i}", "w").close()
        escapes.append("created 20000 files in /tmp")
    except OSError:
        pass
    finally:
        for name in os.listdir("/tmp"):
            if name.startswith("small-"):
                os.remove(os.path.join("/tmp", name))
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
