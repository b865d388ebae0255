"""Staging a stored submission for the sandbox: archives that cannot be extracted are the
submission's error (charged), never ours (retried, then refunded)."""

from __future__ import annotations

import errno
import io
import zipfile
from pathlib import Path

import pytest

from competition.artifacts import ArtifactStore
from competition.models import FailureCategory, SubmissionStatus
from harness.errors import InvalidSubmission
from worker.staging import _archive_error, staged_submission
from worker.tasks.dispatch import start_evaluation

SOURCE = b"def unlearning(net, retain_loader, forget_loader, val_loader):\n    pass\n"


def _zip(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


# Archives the upload check now refuses (api/upload.py), as if one had slipped past it.
FILE_AND_FOLDER = _zip(("submission.py", SOURCE), ("helpers", b""), ("helpers/x.py", b"x = 1\n"))
FOLDER_OVER_FILE = _zip(("submission.py", SOURCE), ("submission.py/", b""))


@pytest.mark.parametrize(
    ("data", "member"), [(FILE_AND_FOLDER, "helpers/x.py"), (FOLDER_OVER_FILE, "submission.py/")]
)
def test_staging_an_archive_whose_members_clash_is_the_submissions_error(
    tmp_path: Path, data: bytes, member: str
) -> None:
    # Control: the standard library's extraction does fail on it, with an OSError.
    with zipfile.ZipFile(io.BytesIO(data)) as bundle, pytest.raises(OSError):
        bundle.extractall(tmp_path / "plain")
    store = ArtifactStore(tmp_path / "store")
    store.put_bytes("code.zip", data)
    with pytest.raises(InvalidSubmission) as error:
        with staged_submission(store, code_key="code.zip", kind="zip"):
            pass
    assert f"{member!r} cannot be extracted" in error.value.message
    assert str(tmp_path) not in error.value.message and "/tmp" not in error.value.message


def test_staging_an_unreadable_archive_is_the_submissions_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    store.put_bytes("code.zip", b"PK\x03\x04 not a zip")
    with pytest.raises(InvalidSubmission, match="cannot be read as a zip"):
        with staged_submission(store, code_key="code.zip", kind="zip"):
            pass


def test_a_full_disk_while_staging_stays_this_machines_error() -> None:
    # ENOSPC and the like are the worker's trouble (retried, refunded if it persists); the
    # archive's own clash is the submission's.
    full = OSError(errno.ENOSPC, "No space left on device")
    assert _archive_error(full, "x") is full
    clash = NotADirectoryError(errno.ENOTDIR, "Not a directory")
    assert isinstance(_archive_error(clash, "x"), InvalidSubmission)


def test_staging_a_sound_archive_extracts_every_member(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    store.put_bytes("code.zip", _zip(("submission.py", SOURCE), ("helpers/x.py", b"x = 1\n")))
    with staged_submission(store, code_key="code.zip", kind="zip") as folder:
        assert (folder / "submission.py").read_bytes() == SOURCE
        assert (folder / "helpers" / "x.py").is_file()


@pytest.mark.parametrize(
    ("sanity", "category"),
    [(True, FailureCategory.SANITY_CHECK_FAILED), (False, FailureCategory.INVALID_SUBMISSION)],
)
def test_an_archive_that_cannot_be_staged_fails_charged_and_unretried(
    pipeline, sanity: bool, category: FailureCategory
) -> None:
    # Through the worker's tasks: the sanity run (staged outside its backend call) or, with
    # no sanity check, the shards.
    phase_id = pipeline.phase(replicas=4, sanity=sanity)
    submission_id = pipeline.submit(phase_id, archive=FILE_AND_FOLDER)
    start_evaluation.delay(submission_id=submission_id)
    submission = pipeline.submission(submission_id)
    assert submission.status == SubmissionStatus.FAILED
    assert submission.failure_category == category
    assert "'helpers/x.py' cannot be extracted" in submission.failure_message
    assert submission.counts_against_quota  # charged: the team's own doing, not refunded
    assert submission.attempt == 1  # and not tried again
