"""Static validation of an uploaded submission: a single `.py` file or a `.zip` bundle.

Input: the file name and its bytes, plus size limits. Output: a `ValidatedUpload` (kind, sha256,
the Python files it contains) or `UploadRejected` carrying a list of `UploadProblem`s, each
with file, line and column where one applies, worded to tell the participant what to fix.

Checks, in order:
- size of the upload (`max_upload_bytes`);
- zip bundles: a readable archive, at most `max_zip_members` entries, no absolute paths,
  `..`, backslashes, drive letters or symlinks (zip-slip), no member paths that clash once
  extracted (`./` or `//` in a path, a file that is also a folder: the worker could not
  stage them), declared uncompressed total under
  `max_unzipped_bytes` and a per-member compression ratio under `max_compression_ratio`
  (zip-bomb), then a bounded real decompression so lying headers cannot get past the limit;
  a `submission.py` at the top level;
- every `.py` file decodes as UTF-8 and parses (errors carry line numbers);
- the entry file binds a top-level `unlearning` that can be called with four positional
  arguments (`harness.runs.contract`, the same check the dry-run and the sandbox make).

Nothing here executes participant code: `ast.parse` only.
"""

from __future__ import annotations

import ast
import hashlib
import io
import stat
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from harness.runs.contract import ENTRY_POINT, check_entry_point

__all__ = [
    "ENTRY_FILE",
    "ENTRY_FUNCTION",
    "UploadLimits",
    "UploadProblem",
    "UploadRejected",
    "ValidatedUpload",
    "validate_upload",
]

ENTRY_FILE = "submission.py"
ENTRY_FUNCTION = ENTRY_POINT


@dataclass(frozen=True)
class UploadLimits:
    max_upload_bytes: int = 2 * 1024 * 1024
    max_unzipped_bytes: int = 20 * 1024 * 1024
    max_zip_members: int = 200
    max_compression_ratio: float = 100.0


@dataclass(frozen=True)
class UploadProblem:
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}" if where else self.message


class UploadRejected(ValueError):
    """The upload is not a valid submission; `problems` says why, with locations."""

    def __init__(self, problems: list[UploadProblem], *, too_large: bool = False) -> None:
        self.problems = problems
        self.too_large = too_large
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class ValidatedUpload:
    kind: str  # "py" or "zip"
    sha256: str
    size_bytes: int
    python_files: dict[str, str] = field(repr=False)  # path -> source text


def validate_upload(
    filename: str, data: bytes, limits: UploadLimits, *, filled: Collection[str] = ()
) -> ValidatedUpload:
    """Validate an upload by name and content; raise `UploadRejected` with every problem found.
    `filled`: the parameters of unlearning() the phase's interface fills (its device)."""
    if len(data) > limits.max_upload_bytes:
        raise UploadRejected(
            [
                UploadProblem(
                    f"upload is {len(data)} bytes; the limit is {limits.max_upload_bytes} bytes"
                )
            ],
            too_large=True,
        )
    if not data:
        raise UploadRejected([UploadProblem("upload is empty")])
    lowered = filename.lower()
    if lowered.endswith(".py"):
        kind, files = "py", {ENTRY_FILE: _decode(ENTRY_FILE, data)}
    elif lowered.endswith(".zip"):
        kind, files = "zip", _python_files_from_zip(data, limits)
    else:
        raise UploadRejected(
            [UploadProblem(f"file {filename!r} must be a .py file or a .zip with {ENTRY_FILE}")]
        )
    problems: list[UploadProblem] = []
    trees: dict[str, ast.Module] = {}
    for path, source in files.items():
        try:
            trees[path] = ast.parse(source, filename=path)
        except SyntaxError as exc:
            problems.append(UploadProblem(f"syntax error: {exc.msg}", path, exc.lineno, exc.offset))
    if ENTRY_FILE in trees:
        problems.extend(_check_entry_function(files[ENTRY_FILE], filled))
    if problems:
        raise UploadRejected(problems)
    return ValidatedUpload(kind, hashlib.sha256(data).hexdigest(), len(data), files)


def _decode(path: str, data: bytes) -> str:
    if b"\x00" in data:
        raise UploadRejected([UploadProblem("contains NUL bytes; is it a text file?", path)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UploadRejected(
            [UploadProblem("is not valid UTF-8 text; save it as UTF-8", path, line)]
        ) from None


def _python_files_from_zip(data: bytes, limits: UploadLimits) -> dict[str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise UploadRejected([UploadProblem("not a readable zip archive")]) from None
    if len(members) > limits.max_zip_members:
        raise UploadRejected(
            [
                UploadProblem(
                    f"zip has {len(members)} entries; the limit is {limits.max_zip_members}"
                )
            ]
        )
    problems: list[UploadProblem] = []
    seen: set[str] = set()
    declared_total = 0
    for info in members:
        problems.extend(_unsafe_member_problems(info, seen))
        declared_total += info.file_size
        if (
            info.compress_size
            and info.file_size / info.compress_size > limits.max_compression_ratio
        ):
            problems.append(
                UploadProblem(
                    f"compression ratio {info.file_size / info.compress_size:.0f}:1 exceeds "
                    f"{limits.max_compression_ratio:.0f}:1 (zip bomb?)",
                    info.filename,
                )
            )
    problems.extend(_path_clash_problems(members))
    if declared_total > limits.max_unzipped_bytes:
        problems.append(
            UploadProblem(
                f"zip expands to {declared_total} bytes; the limit is {limits.max_unzipped_bytes}"
            )
        )
    if problems:
        raise UploadRejected(problems)
    names = {info.filename for info in members if not info.is_dir()}
    if ENTRY_FILE not in names:
        hint = ""
        nested = sorted(n for n in names if n.endswith("/" + ENTRY_FILE))
        if nested:
            hint = f" (found {nested[0]!r}: zip the folder's contents, not the folder)"
        raise UploadRejected([UploadProblem(f"zip has no top-level {ENTRY_FILE}{hint}")])
    return _read_python_members(archive, members, limits)


def _unsafe_member_problems(info: zipfile.ZipInfo, seen: set[str]) -> list[UploadProblem]:
    name = info.filename
    problems = []
    path = PurePosixPath(name)
    first = path.parts[0] if path.parts else ""
    if (
        not path.parts
        or "\\" in name
        or name.startswith("/")
        or ":" in first
        or any(part == ".." for part in path.parts)
    ):
        problems.append(UploadProblem("unsafe path in zip (absolute, '..' or drive)", name))
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        problems.append(UploadProblem("symbolic links are not allowed in the zip", name))
    if info.flag_bits & 0x1:
        problems.append(UploadProblem("encrypted zip entries are not allowed", name))
    if name in seen:
        problems.append(UploadProblem("duplicate entry in zip", name))
    seen.add(name)
    return problems


def _path_clash_problems(members: list[zipfile.ZipInfo]) -> list[UploadProblem]:
    """Members the worker could not all extract as checked here: `.` or empty path components
    (extraction drops them, so `./submission.py` would overwrite the `submission.py` checked
    here), or a file that another member needs as a folder (`helpers` and `helpers/x.py`, or
    `submission.py/`). With those gone, each member extracts to its own name, and equal names
    are refused as duplicates."""
    problems = []
    files: dict[str, str] = {}  # path -> member name
    folders: dict[str, str] = {}  # folder path (a folder entry or a parent) -> member name
    for info in members:
        name = info.filename
        parts = name.removesuffix("/").split("/") if info.is_dir() else name.split("/")
        if any(part in ("", ".") for part in parts):
            problems.append(
                UploadProblem("path has a '.' or empty component (such as './' or '//')", name)
            )
            continue
        if info.is_dir():
            folders.setdefault("/".join(parts), name)
        else:
            files.setdefault("/".join(parts), name)
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), name)
    for path, name in files.items():
        if path in folders:
            problems.append(
                UploadProblem(f"is a file, but {folders[path]!r} needs it to be a folder", name)
            )
    return problems


def _read_python_members(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], limits: UploadLimits
) -> dict[str, str]:
    files: dict[str, str] = {}
    budget = limits.max_unzipped_bytes
    for info in members:
        if info.is_dir():
            continue
        # Decompress every member with a hard cap: headers can lie about sizes.
        try:
            with archive.open(info) as handle:
                content = handle.read(min(info.file_size, budget) + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
            raise UploadRejected(
                [UploadProblem(f"cannot decompress: {exc}", info.filename)]
            ) from None
        if len(content) > info.file_size or len(content) > budget:
            raise UploadRejected(
                [
                    UploadProblem(
                        "entry expands beyond its declared size or the limit", info.filename
                    )
                ]
            )
        budget -= len(content)
        if info.filename.endswith(".py"):
            files[info.filename] = _decode(info.filename, content)
    return files


def _check_entry_function(source: str, filled: Collection[str]) -> list[UploadProblem]:
    """The harness's own contract check (`harness.runs.contract`), as the dry-run runs it."""
    return [
        UploadProblem(p.message, p.file, p.line, p.column)
        for p in check_entry_point(source, filename=ENTRY_FILE, filled=filled)
    ]
