"""Flags every file a test process reads from outside the checkout (CI's fresh-clone check).

A fresh clone holds nothing beside it, so a test that reads, say, ``../shared/`` passes on a
developer's machine and fails for everyone else. `install()` adds an audit hook (PEP 578)
that records each ``open`` for reading whose path lies outside the allowed roots: the
checkout, the temporary directory, the Python installation (venv and base), the system's
own directories, and tools' state folders in the home directory. ``tests/conftest.py``
turns each record into a failure of the test that made it. Only this process is watched;
subprocesses (Docker, the CLI under test) are checked by what they are given.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

# The system's own folders: libraries, configuration, devices, kernel views, caches.
SYSTEM_ROOTS = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def allowed_roots(checkout: Path) -> tuple[str, ...]:
    """Every folder a test may read from, as real paths ending with a separator."""
    roots: set[str] = {str(checkout), tempfile.gettempdir(), *SYSTEM_ROOTS}
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots |= {p for p in sysconfig.get_paths().values()}
    roots |= set(site.getsitepackages()) | {site.getusersitepackages()}
    home = Path.home()
    if home.is_dir():  # tools' state (~/.cache, ~/.config, jupyter's runtime), not data
        roots |= {str(p) for p in home.iterdir() if p.name.startswith(".")}
    real = {os.path.realpath(r) for r in roots if r}
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in real))


def is_outside(path: str, roots: tuple[str, ...]) -> bool:
    """Whether the (absolute or cwd-relative) `path` lies under none of `roots`."""
    real = os.path.realpath(path) + os.sep
    return not any(real.startswith(root) for root in roots)


def _is_read(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and not flags & _WRITE_FLAGS


def install(checkout: Path, record: list[str], roots: tuple[str, ...] | None = None) -> None:
    """Append to `record` the real path of every read outside `roots`, from now on.

    `roots` defaults to `allowed_roots(checkout)`. An audit hook cannot be removed, so a test
    of this function installs it in a subprocess.
    """
    roots = roots if roots is not None else allowed_roots(checkout.resolve())

    def hook(event: str, args: tuple) -> None:
        if event != "open" or not args:
            return
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if isinstance(path, int) or path is None:
            return  # an open file descriptor, not a path
        path = os.fsdecode(path)
        if _is_read(mode, flags) and is_outside(path, roots):
            record.append(os.path.realpath(path))

    sys.addaudithook(hook)
