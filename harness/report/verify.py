"""Check a record (`harness.report.record`): signature, file hashes, runs, the score.

    verify_record(data, key=None, processes=1) -> [Check]

Checks, in order, each with a verdict (`pass`, `fail`, or `skip` with the reason):

1. signature: HMAC-SHA256 of the canonical manifest with `key` (the derived record key).
   No key: skipped, saying whether the record is signed. A key and an unsigned record:
   fail (a signature may have been stripped).
2. files: every file the manifest lists is present with its sha256, and nothing else is.
3. runs: each successful run's `output_sha256` matches its rows of `unlearned.npz`, in the
   listed seed order; a failed run has no output.
4. score: recomputed from the stored arrays with the recorded estimator, seed, bootstrap
   size and confidence (`harness.scoring.score_submission`), every number compared for
   float equality with the manifest's. A failed evaluation must carry no score. With
   `intervals=False` the bootstrap is not rerun (its time is most of scoring's): F, the
   final score, the accuracies and the noise floor are still recomputed and compared.

A record passes when no check fails. Files are read with `allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.evaluate import Evaluation, score_evaluations
from harness.report.record import (
    SCORE_ARRAYS,
    Record,
    RecordError,
    file_sha256,
    read_record,
    run_output_sha256,
    scoring_sha256,
    signature_of,
)

__all__ = ["Check", "passed", "verify_record"]

Verdict = Literal["pass", "fail", "skip"]
BOOTSTRAP_FIELDS = ("forget_quality_ci", "final_score_ci", "n_bootstrap", "bootstrap_originals")


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str


def passed(checks: list[Check]) -> bool:
    return all(check.verdict != "fail" for check in checks)


def verify_record(
    data: bytes, *, key: bytes | None = None, processes: int = 1, intervals: bool = True
) -> list[Check]:
    """Every check of the record in `data` (zip bytes); see the module docstring."""
    try:
        record = read_record(data)
    except RecordError as exc:
        return [Check("format", "fail", str(exc))]
    try:
        return _checks(record, key=key, processes=processes, intervals=intervals)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a field missing or odd
        return [Check("format", "fail", f"malformed manifest: {type(exc).__name__}: {exc}")]


def _checks(record: Record, *, key: bytes | None, processes: int, intervals: bool) -> list[Check]:
    checks = [Check("format", "pass", f"{record.manifest['kind']} record")]
    checks.append(_signature(record.manifest, key))
    files = _files(record)
    checks.append(files)
    if files.verdict == "fail":
        return [*checks, Check("runs", "skip", "files do not match"), Check("score", "skip", "")]
    try:
        arrays = {name: _load(record, name) for name in record.manifest["files"]}
    except RecordError as exc:
        return [*checks, Check("runs", "fail", str(exc)), Check("score", "skip", "")]
    checks.append(_runs(record.manifest, arrays.get("unlearned.npz")))
    checks.append(_score(record.manifest, arrays, processes=processes, intervals=intervals))
    return checks


def _signature(manifest: Mapping[str, Any], key: bytes | None) -> Check:
    signature = manifest.get("signature")
    if key is None:
        state = "signed" if signature else "unsigned"
        return Check("signature", "skip", f"{state} record; no key given, not checked")
    if not signature:
        return Check("signature", "fail", "the record is unsigned but a key was given")
    key_id = hashlib.sha256(key).hexdigest()[:16]
    if signature.get("key_id") != key_id:
        return Check(
            "signature",
            "fail",
            f"signed with key {signature.get('key_id')}, the key given is {key_id}",
        )
    if not hmac.compare_digest(str(signature.get("value", "")), signature_of(manifest, key)):
        return Check("signature", "fail", "HMAC mismatch: the manifest was changed after signing")
    return Check("signature", "pass", f"HMAC-SHA256 with key {key_id}")


def _files(record: Record) -> Check:
    listed: dict[str, str] = record.manifest.get("files", {})
    problems = [
        f"{name}: {'missing' if name not in record.files else 'sha256 mismatch'}"
        for name, digest in sorted(listed.items())
        if name not in record.files or file_sha256(record.files[name]) != digest
    ]
    problems += [
        f"{name}: not listed in the manifest" for name in record.files if name not in listed
    ]
    if problems:
        return Check("files", "fail", "; ".join(problems))
    return Check("files", "pass", f"{len(listed)} files, sha256 match")


def _load(record: Record, name: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(record.files[name]), allow_pickle=False) as npz:
            return {array: npz[array] for array in npz.files}
    except (OSError, ValueError) as exc:
        raise RecordError(f"{name} is not a readable .npz ({exc})") from None


def _runs(manifest: Mapping[str, Any], unlearned: dict[str, np.ndarray] | None) -> Check:
    runs = manifest.get("runs", [])
    ok = [run for run in runs if run["outcome"] == "ok"]
    failed = [run for run in runs if run["outcome"] != "ok"]
    summary = f"{len(runs)} runs: {len(ok)} ok" + "".join(
        f", seed {run['seed']} {run['outcome']} after {run['seconds']:.2f} s" for run in failed
    )
    if unlearned is None:
        if manifest.get("status") == "scored":
            return Check("runs", "fail", "a scored record without unlearned.npz")
        return Check("runs", "pass", f"{summary}; no outputs (the evaluation failed)")
    seeds = [int(seed) for seed in unlearned.get("seeds", np.zeros(0, np.int64))]
    if seeds != [run["seed"] for run in ok]:
        return Check("runs", "fail", f"unlearned.npz holds seeds {seeds}, not the ok runs'")
    for row, run in enumerate(ok):
        if run_output_sha256(unlearned, row) != run["output_sha256"]:
            return Check("runs", "fail", f"seed {run['seed']}: output sha256 mismatch")
    if any(run.get("output_sha256") for run in failed):
        return Check("runs", "fail", "a failed run lists an output")
    return Check("runs", "pass", f"{summary}; outputs match")


def _score(
    manifest: Mapping[str, Any],
    arrays: Mapping[str, dict[str, np.ndarray]],
    *,
    processes: int,
    intervals: bool,
) -> Check:
    recorded = manifest.get("score")
    if manifest.get("status") != "scored":
        if recorded is not None:
            return Check("score", "fail", "a failed evaluation carries a score")
        failure = manifest.get("failure") or {}
        return Check("score", "skip", f"the evaluation failed ({failure.get('category')})")
    if recorded is None or "unlearned.npz" not in arrays or "reference.npz" not in arrays:
        return Check("score", "fail", "a scored record needs its score and both arrays")
    unlearned = Evaluation.from_arrays(arrays["unlearned.npz"])
    reference = Evaluation.from_arrays(arrays["reference.npz"])
    try:
        # Under K > 1 originals the intervals resampled them too: run i started from i mod K.
        count = int(recorded.get("bootstrap_originals", 1))
        seeds = np.asarray(arrays["unlearned.npz"]["seeds"], dtype=np.int64)
        result = score_evaluations(
            unlearned,
            reference,
            estimator=str(recorded["estimator"]),
            n_bootstrap=int(recorded["n_bootstrap"]) if intervals else 0,
            seed=int(recorded["seed"]),
            confidence=float(recorded["confidence"]),
            processes=processes,
            originals=seeds % count if count > 1 and intervals else None,
        )
    except (ValueError, KeyError) as exc:
        return Check("score", "fail", f"the stored arrays cannot be scored: {exc}")
    again = {k: v for k, v in result.to_dict().items() if k not in SCORE_ARRAYS}
    for name in SCORE_ARRAYS:
        values = np.ascontiguousarray(np.asarray(getattr(result, name), np.float64))
        again[f"{name}_sha256"] = hashlib.sha256(values.tobytes()).hexdigest()
    if not intervals:  # what the bootstrap gives is left as recorded
        again |= {name: recorded.get(name) for name in BOOTSTRAP_FIELDS}
    differ = [
        f"{name}: recorded {recorded.get(name)!r}, recomputed {value!r}"
        for name, value in sorted(again.items())
        if recorded.get(name) != value
    ]
    differ += [f"{name}: not a score field" for name in recorded if name not in again]
    if differ:
        return Check("score", "fail", "; ".join(differ))
    note = ""
    if manifest.get("estimator", {}).get("scoring_sha256") != scoring_sha256():
        note = " (this scorer's code differs from the recording one; the numbers agree)"
    what = "and every interval" if intervals else "(intervals not recomputed)"
    return Check(
        "score", "pass", f"final score {again['final_score']!r} {what} recomputed bit for bit{note}"
    )
