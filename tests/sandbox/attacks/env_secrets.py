# Attack: read secrets from the environment (broker URL, tokens, cloud keys, a canary that
# the control run plants), its own and the runner's (pid 1). Only the runner's own
# variables may be there.
# expect: ok
# control: escapes
import os

ALLOWED = {
    "HOME",
    "TMPDIR",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONUNBUFFERED",
    "PATH",
    "HOSTNAME",
    "LC_CTYPE",  # set by Python itself (PEP 538 locale coercion)
    "TORCHINDUCTOR_CACHE_DIR",  # set by torch itself on importing torch._dynamo (warm_up)
}


def probe():
    unexpected = sorted(set(os.environ) - ALLOWED)
    escapes = [f"environment variables {unexpected}"] if unexpected else []
    try:  # pid 1 is the runner, non-dumpable: unreadable without CAP_SYS_PTRACE
        with open("/proc/1/environ", "rb") as handle:
            init_env = handle.read().split(b"\0")
    except PermissionError:
        init_env = []
    if any(b"CANARY" in item or b"TOKEN" in item or b"BROKER" in item for item in init_env):
        escapes.append("secret in init's environment")
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
