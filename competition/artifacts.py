"""One artifact store for the server and the workers: bytes under keys, behind a URL.

Input: a URL naming the root, `file:///srv/unlearn/artifacts` (the default: a local folder)
or any fsspec URL such as `s3://bucket/prefix` in production (install the matching fsspec
backend, e.g. `s3fs`). Output: `ArtifactStore` with the verbs the API's local store has
(`put_bytes`, `get_bytes`, `exists`, `url`) plus `put_file`/`get_file`/`list` for the
worker's larger files (reference caches, shard outputs, reports, plots).

Keys are relative POSIX paths (`submissions/42/submission.py`,
`evaluations/42/attempt-1/shard-000.npz`). A write is all or nothing: local files are written
to a temporary name and renamed into place; object stores write whole objects.
"""

from __future__ import annotations

import builtins
import logging
import os
import uuid
from pathlib import Path, PurePosixPath

import fsspec
from fsspec.implementations.local import LocalFileSystem

logger = logging.getLogger(__name__)

__all__ = ["ArtifactStore", "check_key", "evaluation_record_key", "submission_code_key"]


def submission_code_key(submission_id: int, kind: str) -> str:
    """Where a submission's uploaded bytes live: `submissions/<id>/submission.<py|zip>`."""
    return f"submissions/{submission_id}/submission.{kind}"


def evaluation_record_key(submission_id: int, attempt: int, split: str) -> str:
    """Where a scored split's signed record lives (`harness.report.record`): written by the
    scoring worker, served by `GET /api/v1/submissions/{id}/record`."""
    return f"reports/{submission_id}/attempt-{attempt}/record-{split}.zip"


def check_key(key: str) -> str:
    """`key` if it is a relative path without `..`; `ValueError` saying what to fix if not."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise ValueError(f"artifact key {key!r} must be a relative path without '..'")
    return key


class ArtifactStore:
    """Artifacts under one root URL. Safe to share between processes and machines."""

    def __init__(self, url: str | Path) -> None:
        url = str(url)
        if "://" not in url:
            url = Path(url).resolve().as_uri()
        self.root_url = url.rstrip("/")
        self.fs, root = fsspec.core.url_to_fs(self.root_url)
        self.root = root.rstrip("/")
        self.is_local = isinstance(self.fs, LocalFileSystem)
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if not self.is_local:
            self.fs.pipe_file(path, data)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)  # atomic on one filesystem: readers see old or new, never half
        finally:
            tmp.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        """The bytes under `key`; `FileNotFoundError` if there are none."""
        data: bytes = self.fs.cat_file(self._path(key))
        return data

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def put_file(self, key: str, local: Path) -> None:
        self.put_bytes(key, Path(local).read_bytes())

    def get_file(self, key: str, local: Path) -> Path:
        """Copy `key` to the local path `local` (made atomically); returns `local`."""
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".tmp-{uuid.uuid4().hex}")
        tmp.write_bytes(self.get_bytes(key))
        tmp.replace(local)
        return local

    def list(self, prefix: str) -> list[str]:
        """Keys under the folder `prefix`, sorted; empty when there is none."""
        folder = self._path(prefix)
        if not self.fs.isdir(folder):
            return []
        found = self.fs.find(folder)
        start = len(self.root) + 1
        return sorted(
            path[start:] for path in found if not PurePosixPath(path).name.startswith(".tmp-")
        )

    def keys(self) -> builtins.list[str]:  # `list` here is the method above
        """Every key in the store, sorted (what a backup copies)."""
        if not self.fs.isdir(self.root):
            return []
        start = len(self.root) + 1
        return sorted(
            path[start:]
            for path in self.fs.find(self.root)
            if not PurePosixPath(path).name.startswith(".tmp-")
        )

    def delete_prefix(self, prefix: str) -> None:
        folder = self._path(prefix)
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)

    def url(self, key: str) -> str:
        return f"{self.root_url}/{check_key(key)}"
