"""The record of one evaluation: a signed manifest and the arrays its score came from.

    build_record(prepared=, runs=, unlearned=, result=, ...)  -> Record
    record.signed(key) -> Record        record.to_bytes() -> a zip     read_record(data)
    canonical(manifest) -> bytes        signature_of(manifest, key) -> hex

A record is a zip archive (`record.zip`) holding

    manifest.json    what was evaluated and how, every run's outcome, the score
    unlearned.npz    the successful runs' evaluation arrays (`harness.evaluate.Evaluation`),
                     row i is seed `seeds[i]`
    reference.npz    the retrained reference's evaluation arrays, same layout

and the manifest lists each file's sha256. The manifest names the submission (sha256),
the code (package version, git commit when the source is a checkout), the sandbox (runner
and image id, "local" in process), the phase (sha256 of its canonical configuration with
the leaderboards' secret seeds left out: a hash of a small integer is no secret), the split
(sha256 of each index array: a fingerprint, never the ids), the seeds, every run with its
outcome (`ok`, or the failure's category: `timeout`, `exception`, ...), its time and the
sha256 of its output rows, the reference's cache key, the estimator with the harness
version and a hash of the scoring code, and the score with its intervals. A failed
evaluation has the failure and no score.

Signature: HMAC-SHA256 over `canonical(manifest)` (sorted keys, no whitespace, the
`signature` field left out) with a key derived from the server's secret key
(`record_key`), so the secret itself signs nothing else this way. Only a holder of the key
can check it; anyone can check the hashes and recompute the score
(`harness.report.verify`). Nothing here reads the environment: the key is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import harness
from harness.errors import SubmissionError
from harness.evaluate import Evaluation

__all__ = [
    "FORMAT",
    "Record",
    "RecordError",
    "RunEntry",
    "build_record",
    "canonical",
    "code_version",
    "file_sha256",
    "phase_sha256",
    "read_record",
    "record_key",
    "run_output_sha256",
    "scoring_sha256",
    "signature_of",
    "submission_sha256",
]

FORMAT = "unlearning-harness evaluation record"
VERSION = 1
MANIFEST = "manifest.json"
MAX_RECORD_BYTES = 4 * 1024**3  # unpacked; N = 512 at S = 400 is about 40 MB
HIDDEN_SEEDS = ("public_seed", "private_seed")  # the server's secrets (harness.phase)
SCORE_ARRAYS = ("epsilons", "points")  # kept as hashes in the manifest, not as lists


class RecordError(ValueError):
    """A record that cannot be read: not a zip, no manifest, a file missing. The message
    says what is wrong and is safe to show."""


@dataclass(frozen=True)
class RunEntry:
    """One run as the record lists it: failed and timed-out runs included."""

    seed: int
    outcome: str  # "ok" or the failure's category ("timeout", "exception", ...)
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class Record:
    """A manifest and its files (name -> bytes); `to_bytes()` is the zip."""

    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def signed(self, key: bytes) -> Record:
        """This record signed with `key` (see `record_key`)."""
        manifest = {k: v for k, v in self.manifest.items() if k != "signature"}
        manifest["signature"] = {
            "algorithm": "HMAC-SHA256",
            "key_id": hashlib.sha256(key).hexdigest()[:16],
            "value": signature_of(manifest, key),
        }
        return replace(self, manifest=manifest)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(self.manifest, indent=2, sort_keys=True))
            for name, data in sorted(self.files.items()):
                archive.writestr(name, data)
        return buffer.getvalue()

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path


def read_record(data: bytes, *, max_bytes: int = MAX_RECORD_BYTES) -> Record:
    """The manifest and files of a record's zip bytes; RecordError if it is not one, or if
    it would unpack to more than `max_bytes` (a record may come from anyone)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > max_bytes:
                raise RecordError(f"the archive unpacks to {unpacked} bytes, over {max_bytes}")
            files = {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise RecordError(f"not a record (a zip with {MANIFEST}): {exc}") from None
    if MANIFEST not in files:
        raise RecordError(f"the archive has no {MANIFEST}: not a record")
    try:
        manifest = json.loads(files.pop(MANIFEST))
    except ValueError as exc:
        raise RecordError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RecordError(f"{MANIFEST} is not a {FORMAT!r} (format field missing or other)")
    return Record(manifest, files)


# -- hashes and the signature --------------------------------------------------------------


def canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no whitespace, without `signature`."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def record_key(secret: str | bytes) -> bytes:
    """The signing key derived from a server's secret key (a key for this use only)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"unlearning-harness record signing v1", hashlib.sha256).digest()


def signature_of(manifest: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(manifest), hashlib.sha256).hexdigest()


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _array_sha256(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def run_output_sha256(arrays: Mapping[str, np.ndarray], row: int) -> str:
    """sha256 of one run's output: its row of every evaluation array, by sorted name."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "seeds":
            continue
        value = np.ascontiguousarray(arrays[name][row])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}:".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def phase_sha256(phase_dict: Mapping[str, Any]) -> str:
    """sha256 of a phase's canonical configuration without the leaderboards' seeds."""
    public = dict(phase_dict)
    public["split"] = {k: v for k, v in public["split"].items() if k not in HIDDEN_SEEDS}
    text = json.dumps(public, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def submission_sha256(path: Path) -> str:
    """sha256 of a submission file, or of a folder's files (relative path and content)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path.read_bytes())
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file_sha256(item.read_bytes()).encode())
    return digest.hexdigest()


def scoring_sha256() -> str:
    """sha256 of the scoring package's sources: two verifiers with the same value run the
    same scorer (a different value may still give the same numbers)."""
    digest = hashlib.sha256()
    root = Path(harness.__file__).parent / "scoring"
    for item in sorted(root.glob("*.py")):
        digest.update(item.name.encode() + b"\0" + item.read_bytes())
    return digest.hexdigest()


def code_version() -> dict[str, str | None]:
    """The package version and, when the source is a git checkout, its commit (read from
    the .git files: no git process). Only the folder holding the `harness` package is
    looked at: an installed wheel has no commit, whatever repository it sits in."""
    root = Path(harness.__file__).resolve().parents[1]
    return {"version": harness.__version__, "commit": _git_commit(root / ".git")}


def _git_commit(marker: Path) -> str | None:
    if not marker.exists():
        return None
    try:
        gitdir = marker
        if marker.is_file():  # a worktree: "gitdir: <path>"
            gitdir = Path(marker.read_text().split(":", 1)[1].strip())
        common = gitdir
        if (gitdir / "commondir").is_file():
            common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
        head = (gitdir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        for base in (gitdir, common):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(f" {ref}"):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


# -- building a record ---------------------------------------------------------------------


def runs_from_outcomes(outcomes: Sequence[Any]) -> list[RunEntry]:
    """RunEntry per `harness.runs.sandbox.base.RunOutcome`, in seed order."""
    entries = []
    for outcome in outcomes:
        error: SubmissionError | None = outcome.error
        if error is None and outcome.state is None:
            entries.append(RunEntry(outcome.seed, "invalid_output", outcome.seconds, "no weights"))
        elif error is None:
            entries.append(RunEntry(outcome.seed, "ok", float(outcome.seconds)))
        else:
            entries.append(
                RunEntry(int(outcome.seed), error.category, float(outcome.seconds), error.message)
            )
    return entries


def _npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def build_record(
    *,
    prepared: Any,
    runs: Sequence[RunEntry],
    unlearned: Evaluation | None,
    result: Any | None,
    submission_sha: str,
    sandbox: Mapping[str, str],
    kind: str,
    failure: Mapping[str, str] | None = None,
    reference: Evaluation | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    """The (unsigned) record of one evaluation.

    `prepared`: the phase's `harness.reference.cache.Prepared`; `runs`: every run, failed
    ones included; `unlearned`: the evaluation of the successful runs (row i is the i-th
    `ok` run), None when the evaluation failed; `result`: its `ScoreReport`, or None with a
    `failure` (category, message); `reference`: the reference's evaluation compared with,
    when not the whole of `prepared`'s (a racing stop at n); `kind`: "dry-run" or "server".
    """
    reference = reference if reference is not None else prepared.reference.evaluation
    splits = prepared.splits
    files: dict[str, bytes] = {}
    ok_seeds = [run.seed for run in runs if run.outcome == "ok"]
    hashes: dict[int, str] = {}
    if unlearned is not None:
        arrays = unlearned.to_arrays()
        if unlearned.n_models != len(ok_seeds):
            raise ValueError(
                f"{unlearned.n_models} evaluated runs for {len(ok_seeds)} successful runs"
            )
        hashes = {seed: run_output_sha256(arrays, row) for row, seed in enumerate(ok_seeds)}
        files["unlearned.npz"] = _npz({**arrays, "seeds": np.asarray(ok_seeds, dtype=np.int64)})
    files["reference.npz"] = _npz(reference.to_arrays())
    score: dict[str, Any] | None = None
    if result is not None:
        score = {k: v for k, v in result.to_dict().items() if k not in SCORE_ARRAYS}
        for name in SCORE_ARRAYS:
            score[f"{name}_sha256"] = _array_sha256(np.asarray(getattr(result, name), np.float64))
    phase = prepared.phase
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "submission": {"sha256": submission_sha},
        "code": code_version(),
        "sandbox": {"image": "local", "image_id": "local", **dict(sandbox)},
        "phase": {
            "sha256": phase_sha256(phase.to_dict()),
            "replicas": phase.replicas,
            "dataset": phase.dataset.kind,
            "model": phase.model,
        },
        "split": {
            "name": splits.split,
            "sha256": {
                part: _array_sha256(np.asarray(getattr(splits, part), dtype=np.int64))
                for part in ("train", "val", "test", "forget", "retain")
            },
        },
        "reference": {"key": prepared.reference.key, "models": reference.n_models},
        "estimator": {
            "name": phase.estimator,
            "harness_version": harness.__version__,
            "scoring_sha256": scoring_sha256(),
        },
        "seeds": {
            "runs": [run.seed for run in runs],
            "score": None if score is None else score["seed"],
        },
        "runs": [
            {
                "seed": run.seed,
                "outcome": run.outcome,
                "seconds": run.seconds,
                "output_sha256": hashes.get(run.seed),
                **({"message": run.message} if run.message else {}),
            }
            for run in runs
        ],
        "status": "scored" if score is not None else "failed",
        "failure": dict(failure) if failure else None,
        "score": score,
        "files": {name: file_sha256(data) for name, data in sorted(files.items())},
        **dict(extra or {}),
    }
    return Record(manifest, files)
