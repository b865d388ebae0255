"""The evaluation record: a dry-run writes one, `unlearn verify` passes it and catches tampering.

One good and one failed dry-run on the smallest settings of tests/harness/test_dryrun.py
(digits, 3 epochs, 6 replicas, sharing one reference cache); the tampered records are
edits of the good one. A synthetic record adds a timed-out run the dry-runs cannot afford.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.report.record import (
    Record,
    RecordError,
    RunEntry,
    file_sha256,
    read_record,
    record_key,
    run_output_sha256,
)
from harness.report.verify import passed, verify_record
from tests.record_factory import synthetic_record
from unlearn.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "starting_kit" / "examples"
SMALL = ["--dataset", "digits", "--epochs", "3", "--replicas", "6"]
SECRET = "a-server-secret-key-for-tests"
SEED_THREE_FAILS = """
import torch

def unlearning(net, retain_loader, forget_loader, val_loader):
    if torch.initial_seed() == 3:
        raise RuntimeError("seed three is unlucky")
"""


def _dry_run(submission: Path, out: Path, cache: Path) -> tuple[int, str]:
    args = ["dry-run", str(submission), *SMALL, "--cache-dir", str(cache), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def _verify(path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", str(path), *extra])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("records")
    code, output = _dry_run(EXAMPLES / "finetune.py", root / "good", root / "cache")
    assert code == 0, output
    assert "record.zip" in output
    failing = root / "seed_three.py"
    failing.write_text(SEED_THREE_FAILS)
    code, output = _dry_run(failing, root / "failed", root / "cache")
    assert code == 1, output
    return {"root": root, "good": root / "good", "failed": root / "failed"}


def _edited(path: Path, out: Path, edit: Any, *, key: bytes | None = None) -> Path:
    record = read_record(path.read_bytes())
    manifest = json.loads(json.dumps(record.manifest))
    files = dict(record.files)
    edit(manifest, files)
    edited = Record(manifest, files)
    out.write_bytes((edited.signed(key) if key else edited).to_bytes())
    return out


def _with_output_changed(files: dict[str, bytes]) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(files["unlearned.npz"]), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["retain_acc"] = arrays["retain_acc"].copy()
    arrays["retain_acc"][0] = 0.0  # seed 0 claims it forgot the retain set: the score moves
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    files["unlearned.npz"] = buffer.getvalue()
    return arrays


def test_verify_passes_a_dry_run_record_whose_score_is_the_report(
    dry_runs: dict[str, Path],
) -> None:
    path = dry_runs["good"] / "record.zip"
    code, output = _verify(path)
    assert code == 0, output
    assert "SKIP signature: unsigned record" in output and "record verified" in output
    assert "6 runs: 6 ok; outputs match" in output
    manifest = read_record(path.read_bytes()).manifest
    report = json.loads((dry_runs["good"] / "report.json").read_text())
    assert manifest["score"]["final_score"] == report["final_score"]
    assert manifest["score"]["final_score_ci"] == report["final_score_ci"]
    assert manifest["split"]["name"] == "dev" and manifest["sandbox"]["image_id"] == "local"
    assert manifest["reference"]["key"] == report["provenance"]["reference"]["key"]
    assert "public_seed" not in json.dumps(manifest)  # the phase is hashed without its seeds


def test_verify_catches_a_tampered_output_file(dry_runs: dict[str, Path]) -> None:
    tampered = _edited(
        dry_runs["good"] / "record.zip",
        dry_runs["root"] / "tampered-output.zip",
        lambda manifest, files: _with_output_changed(files),
    )
    code, output = _verify(tampered)
    assert code == 1, output
    assert "FAIL files: unlearned.npz: sha256 mismatch" in output


def test_verify_recomputes_the_score_when_every_hash_was_rewritten(
    dry_runs: dict[str, Path],
) -> None:
    def rehash(manifest: dict[str, Any], files: dict[str, bytes]) -> None:
        arrays = _with_output_changed(files)
        manifest["files"]["unlearned.npz"] = file_sha256(files["unlearned.npz"])
        manifest["runs"][0]["output_sha256"] = run_output_sha256(arrays, 0)

    tampered = _edited(dry_runs["good"] / "record.zip", dry_runs["root"] / "rehash.zip", rehash)
    checks = {c.name: c for c in verify_record(tampered.read_bytes())}
    assert checks["files"].verdict == "pass" and checks["runs"].verdict == "pass"
    assert checks["score"].verdict == "fail", checks["score"]


def test_verify_catches_a_tampered_score_unsigned_and_signed(dry_runs: dict[str, Path]) -> None:
    def raise_score(manifest: dict[str, Any], files: dict[str, bytes]) -> None:
        manifest["score"]["final_score"] += 0.1

    good = dry_runs["good"] / "record.zip"
    unsigned = _edited(good, dry_runs["root"] / "score.zip", raise_score)
    code, output = _verify(unsigned)
    assert code == 1 and "FAIL score: final_score: recorded" in output, output

    key = record_key(SECRET)
    signed = _edited(good, dry_runs["root"] / "signed.zip", lambda m, f: None, key=key)
    key_file = dry_runs["root"] / "secret.txt"
    key_file.write_text(SECRET + "\n")
    code, output = _verify(signed, "--key-file", str(key_file))
    assert code == 0 and "PASS signature: HMAC-SHA256" in output, output  # the control

    forged = _edited(signed, dry_runs["root"] / "forged.zip", raise_score)  # keeps the old one
    checks = {c.name: c for c in verify_record(forged.read_bytes(), key=key)}
    assert checks["signature"].verdict == "fail" and "HMAC mismatch" in checks["signature"].detail
    assert checks["score"].verdict == "fail"

    wrong = {c.name: c for c in verify_record(signed.read_bytes(), key=record_key("other" * 8))}
    assert wrong["signature"].verdict == "fail"
    stripped = {c.name: c for c in verify_record(good.read_bytes(), key=key)}
    assert stripped["signature"].detail == "the record is unsigned but a key was given"


def test_a_failed_dry_run_record_lists_its_failed_run_and_verifies(
    dry_runs: dict[str, Path],
) -> None:
    path = dry_runs["failed"] / "record.zip"
    manifest = read_record(path.read_bytes()).manifest
    assert manifest["status"] == "failed" and manifest["score"] is None
    assert manifest["failure"]["category"] == "exception"
    outcomes = {run["seed"]: run["outcome"] for run in manifest["runs"]}
    assert outcomes == {0: "ok", 1: "ok", 2: "ok", 3: "exception", 4: "ok", 5: "ok"}
    code, output = _verify(path)
    assert code == 0, output
    assert "seed 3 exception after" in output and "SKIP score: the evaluation failed" in output


def test_a_synthetic_record_with_a_timed_out_run_verifies_and_lists_it() -> None:
    timeout = RunEntry(99, "timeout", 180.0, "seed 99 ran past its 180 s limit")
    record = synthetic_record(extra_runs=((3, timeout),)).signed(record_key(SECRET))
    checks = verify_record(record.to_bytes(), key=record_key(SECRET))
    assert passed(checks), checks
    runs_check = next(c for c in checks if c.name == "runs")
    assert "9 runs: 8 ok, seed 99 timeout after 180.00 s" in runs_check.detail
    assert record.manifest["runs"][3]["output_sha256"] is None


def test_verify_without_intervals_still_recomputes_the_score() -> None:
    record = synthetic_record()
    fast = verify_record(record.to_bytes(), intervals=False)
    assert passed(fast) and "intervals not recomputed" in fast[-1].detail
    manifest = json.loads(json.dumps(record.manifest))
    manifest["score"]["final_score"] *= 1.0 + 1e-12  # one rounding away
    tampered = verify_record(Record(manifest, record.files).to_bytes(), intervals=False)
    assert tampered[-1].name == "score" and tampered[-1].verdict == "fail"


def test_a_record_whose_bootstrap_resampled_originals_verifies_with_its_intervals() -> None:
    record = synthetic_record(originals=2)
    assert record.manifest["score"]["bootstrap_originals"] == 2
    assert passed(verify_record(record.to_bytes()))
    assert "bootstrap_originals" not in synthetic_record().manifest["score"]  # 2023: as before
    manifest = json.loads(json.dumps(record.manifest))
    manifest["score"]["bootstrap_originals"] = 1  # claims one population of runs
    checks = verify_record(Record(manifest, record.files).to_bytes())
    assert checks[-1].name == "score" and checks[-1].verdict == "fail"
    assert "final_score_ci" in checks[-1].detail or "forget_quality_ci" in checks[-1].detail


def test_verify_refuses_what_is_not_a_well_formed_record(tmp_path: Path) -> None:
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"hello")
    code, output = _verify(not_zip)
    assert code == 2 and "not a record" in output
    record = synthetic_record()
    manifest = {**record.manifest, "runs": [{"seed": 0}]}  # a run without its outcome
    checks = verify_record(Record(manifest, record.files).to_bytes())
    assert [c.verdict for c in checks] == ["fail"] and "malformed manifest" in checks[0].detail
    with pytest.raises(RecordError, match="unpacks to"):
        read_record(record.to_bytes(), max_bytes=1000)  # a zip bomb stops before unpacking
    assert read_record(record.to_bytes()).manifest == record.manifest  # the control


def test_the_verify_command_leaves_torch_out_of_the_cli_start() -> None:
    probe = "import sys, unlearn.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
