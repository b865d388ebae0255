"""Artifact store: submission code, logs, reports and plots, as bytes under string keys.

Keys are relative POSIX paths such as `submissions/42/submission.py`; the local backend maps
them under one root folder. Writes go to a temporary file, are fsynced and renamed into place,
so a key is either absent or complete (a crash never leaves half a submission). The pipeline
may swap this class for an fsspec-backed one with the same three verbs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

__all__ = ["ArtifactStore", "submission_code_key"]


def submission_code_key(submission_id: int, kind: str) -> str:
    """Where a submission's uploaded bytes live: `submissions/<id>/submission.<py|zip>`."""
    return f"submissions/{submission_id}/submission.{kind}"


class ArtifactStore:
    """Bytes under keys in a local folder; `url` gives a `file://` URL for workers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".", "") for p in parts):
            raise ValueError(f"artifact key {key!r} must be a relative path without '..'")
        return self.root.joinpath(*parts)

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under `key`; `FileNotFoundError` if there are none."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        return self._path(key).as_uri()
