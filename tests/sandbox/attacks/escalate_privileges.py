# Attack: become root or gain capabilities: setuid(0), setuid binaries, new user and mount
# namespaces, set the clock, load a kernel module.
# expect: ok
# control: escapes
import ctypes
import os
import subprocess

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
PR_GET_NO_NEW_PRIVS = 39


def _status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def probe():
    escapes = []
    if os.getuid() == 0 or os.geteuid() == 0:
        escapes.append("running as root")
    if int(_status("CapEff"), 16) or int(_status("CapBnd"), 16):
        escapes.append(f"capabilities CapEff={_status('CapEff')} CapBnd={_status('CapBnd')}")
    if ctypes.CDLL(None).prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        escapes.append("no-new-privileges is off")
    try:
        os.setuid(0)
        escapes.append("setuid(0) worked")
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
        escapes.append("unshare(user+mount namespace) worked")
    for binary in ("/usr/bin/su", "/bin/su", "/usr/bin/newgrp", "/usr/bin/passwd"):
        if os.path.exists(binary) and os.stat(binary).st_mode & 0o4000:
            result = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
            if result.returncode == 0 and os.geteuid() == 0:
                escapes.append(f"setuid {binary} ran as root")
    try:
        os.setgroups([0])
        escapes.append("setgroups([0]) worked")
    except OSError:
        pass
    return escapes


def unlearning(net, retain_loader, forget_loader, val_loader):
    escapes = probe()
    if escapes:
        raise AssertionError("ESCAPED: " + "; ".join(escapes))
