"""Stage a submission's stored code in a local folder for the sandbox to mount read-only.

Input: the artifact store and the submission's `code_key` and `kind` (`py`: one file;
`zip`: an archive that the server already checked for size, member count and paths).
Output: a temporary folder holding `submission.py` (and helpers), removed on exit; an
archive that cannot be extracted (unreadable, a member that clashes with another) is the
submission's `InvalidSubmission`, charged like any failure of its own, never retried (a
full disk or another error of this machine stays ours: retried). The
folder lies under `TMPDIR`: when the worker itself runs in a container and starts sandboxes
through the host's Docker socket, point `TMPDIR` at a folder mounted at the same path on
the host, or the sandbox would mount an empty directory.
"""

from __future__ import annotations

import errno
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from competition.artifacts import ArtifactStore
from harness.errors import InvalidSubmission

__all__ = ["MACHINE_ERRNOS", "staged_submission"]

# Errors of the worker's machine, not of the archive (which the upload kept small).
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE})


@contextmanager
def staged_submission(store: ArtifactStore, *, code_key: str, kind: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="unlearn-submission-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        data = store.get_bytes(code_key)
        if kind == "py":
            (folder / "submission.py").write_bytes(data)
        elif kind == "zip":
            _extract(Path(tmp) / "upload.zip", data, folder)
        else:
            raise ValueError(f"submission kind must be 'py' or 'zip', got {kind!r}")
        folder.chmod(0o755)
        yield folder


def _extract(archive: Path, data: bytes, folder: Path) -> None:
    """Extract member by member. The upload check refuses the archives known not to extract
    (a file that is also a folder, `./` paths); whatever stops one that slipped past is the
    archive's doing (charged), unless it is this machine's (`MACHINE_ERRNOS`: retried)."""
    archive.write_bytes(data)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise _archive_error(exc, "the archive cannot be read as a zip file") from None
    with bundle:
        for member in bundle.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise InvalidSubmission(f"archive member {member.filename!r} leaves its folder")
        for member in bundle.infolist():
            try:
                bundle.extract(member, folder)
            except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise _archive_error(
                    exc, f"archive member {member.filename!r} cannot be extracted: {reason}"
                ) from None
    archive.unlink()


def _archive_error(error: Exception, message: str) -> Exception:
    """The submission's InvalidSubmission carrying `message` (no path of this machine), or
    `error` itself when it is this machine's doing."""
    if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
        return error
    return InvalidSubmission(message)
