"""Stage a submission's stored code in a local folder for the sandbox to mount read-only.

Input: the artifact store and the submission's `code_key` and `kind` (`py`: one file;
`zip`: an archive that the server already checked for size, member count and paths).
Output: a temporary folder holding `submission.py` (and helpers), removed on exit. The
folder lies under `TMPDIR`: when the worker itself runs in a container and starts sandboxes
through the host's Docker socket, point `TMPDIR` at a folder mounted at the same path on
the host, or the sandbox would mount an empty directory.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from competition.artifacts import ArtifactStore
from harness.errors import InvalidSubmission

__all__ = ["staged_submission"]


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
    archive.write_bytes(data)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise InvalidSubmission(f"archive member {member.filename!r} leaves its folder")
        bundle.extractall(folder)
    archive.unlink()
