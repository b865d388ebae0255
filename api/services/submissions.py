"""Submission use-cases: submit, validate only, the visible submission, logs, cancel, the
final pick and the organizer's rescore.

Upload order is the contract with the workers: refuse organizers -> read within the size
limit -> validate (`api.upload`) -> charge quota, store the code and commit the row as
`queued` (`crud.create_submission`, one transaction) -> send it (`handover`). Who may see a
submission is decided once, in `visible_submission`: another team's is `NotFound`, so its
existence does not leak; what they see of it is `api.visibility.sight`.

Inputs are plain values (bytes streams, ids, rows); errors are `competition.errors` and
`api.errors.APIError`, which the JSON routes and the pages each render their own way.
"""

from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from sqlalchemy.orm import Session

from api import crud
from api.errors import APIError
from api.schemas import LogsPublic
from api.services.handover import send_after_commit
from api.upload import UploadLimits, ValidatedUpload, validate_upload
from api.visibility import can_see_submission, sight
from competition.artifacts import ArtifactStore
from competition.models import Submission, User, utcnow
from competition.queue import EvaluationQueue
from competition.settings import Settings
from harness.registry import INTERFACES

__all__ = [
    "cancel",
    "choose_final",
    "read_code",
    "read_logs",
    "rescore",
    "submit",
    "validate",
    "visible_submission",
]

# The multipart envelope around the file adds a little; the exact check is on the bytes.
_ENVELOPE_BYTES = 64 * 1024


def read_code(file: BinaryIO, *, declared_bytes: str | None, settings: Settings) -> bytes:
    """The uploaded bytes, refusing early (413) what is over the size limit: by the request's
    declared `Content-Length` before reading, then by what was read."""
    limit = settings.max_upload_bytes
    declared = int(declared_bytes) if declared_bytes and declared_bytes.isdigit() else 0
    if declared > limit + _ENVELOPE_BYTES:
        raise APIError(413, f"upload is over the limit of {limit} bytes")
    data = file.read(limit + 1)
    if len(data) > limit:
        raise APIError(413, f"upload is over the limit of {limit} bytes")
    return data


def validate(
    session: Session, settings: Settings, *, filename: str, data: bytes, phase_id: int | None
) -> ValidatedUpload:
    """The static checks alone (raises `api.upload.UploadRejected`). With `phase_id`, the
    parameters that phase's interface fills (its device) count as given."""
    filled = _filled(crud.get_phase(session, phase_id).config.interface) if phase_id else ()
    return validate_upload(filename, data, _limits(settings), filled=filled)


def submit(
    session: Session,
    *,
    settings: Settings,
    store: ArtifactStore,
    queue: EvaluationQueue,
    user: User,
    phase_id: int,
    file: BinaryIO,
    filename: str | None,
    declared_bytes: str | None,
) -> Submission:
    """Read, validate, persist, then send to the workers; spends one of today's quota."""
    if user.is_organizer:
        raise APIError(403, "organizers do not submit; use a participant account")
    data = read_code(file, declared_bytes=declared_bytes, settings=settings)
    name = filename or "submission.py"
    phase = crud.get_phase(session, phase_id)
    filled = _filled(phase.config.interface)
    upload = validate_upload(name, data, _limits(settings), filled=filled)
    submission = crud.create_submission(
        session, store, phase=phase, user=user, filename=name, upload=upload, data=data
    )
    send_after_commit(queue.enqueue, submission.id, what=f"submission {submission.id}")
    return submission


def visible_submission(session: Session, *, viewer: User, submission_id: int) -> Submission:
    """The submission if `viewer` may see it; `NotFound` alike for absent and another team's."""
    submission = session.get(Submission, submission_id)
    if submission is None or not can_see_submission(viewer, submission):
        raise crud.NotFound(f"submission {submission_id} not found")
    return submission


def read_logs(
    store: ArtifactStore, *, viewer: User, submission: Submission, now: datetime | None = None
) -> LogsPublic:
    """The run's output where `viewer`'s sight of the (visible) submission shows logs,
    else empty with `shown` false; undecodable bytes are replaced."""
    view = sight(viewer, submission, now or utcnow())
    text = ""
    if view.logs and submission.logs_key and store.exists(submission.logs_key):
        text = store.get_bytes(submission.logs_key).decode("utf-8", errors="replace")
    return LogsPublic(
        submission_id=submission.id,
        shown=view.logs,
        text=text,
        failure_category=view.failure_category,
    )


def cancel(session: Session, *, viewer: User, submission_id: int) -> Submission:
    """Stop the evaluation; refunded if it had not started."""
    visible_submission(session, viewer=viewer, submission_id=submission_id)
    return crud.cancel_submission(session, submission_id=submission_id)


def choose_final(session: Session, *, viewer: User, submission_id: int) -> Submission:
    """The team's pick for its private-leaderboard row (default: its best public score)."""
    visible_submission(session, viewer=viewer, submission_id=submission_id)
    if viewer.is_organizer:
        raise APIError(403, "final submissions are chosen by the team")
    return crud.select_final(session, submission_id=submission_id)


def rescore(session: Session, queue: EvaluationQueue, *, submission_id: int) -> Submission:
    """Organizers: evaluate again as a new attempt of the same submission."""
    submission = crud.rescore(session, submission_id=submission_id)
    send_after_commit(queue.enqueue, submission.id, what=f"rescore of submission {submission.id}")
    return submission


def _limits(settings: Settings) -> UploadLimits:
    return UploadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        max_unzipped_bytes=settings.max_unzipped_bytes,
        max_zip_members=settings.max_zip_members,
        max_compression_ratio=settings.max_compression_ratio,
    )


def _filled(interface: str) -> tuple[str, ...]:
    """The parameters of unlearning() that `interface` fills by keyword (the run's device)."""
    return INTERFACES[interface].device_parameters if interface in INTERFACES else ()
