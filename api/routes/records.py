"""A scored split's signed record, for download: `GET /submissions/{id}/record?split=`.

The record (`harness.report.record`: manifest, per-run outputs, reference arrays) is written
by the scoring worker under `competition.artifacts.evaluation_record_key` and checked with
`unlearn verify`. What a viewer may download follows `api.visibility.sight`: a team gets its
public record once that split is scored and the private one only after the phase ends; the
404 before the end reads the same whether or not a private record exists.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api import crud
from api.deps import CurrentUser, SessionDep, StoreDep, VisibleSubmission
from api.errors import ERROR_RESPONSES, APIError
from api.visibility import sight
from competition.artifacts import evaluation_record_key
from competition.models import utcnow

__all__ = ["router"]

router = APIRouter(tags=["submissions"], responses=ERROR_RESPONSES)
SplitQuery = Annotated[Literal["public", "private"], Query()]


@router.get(
    "/submissions/{submission_id}/record",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def read_record(
    submission: VisibleSubmission,
    session: SessionDep,
    store: StoreDep,
    user: CurrentUser,
    split: SplitQuery = "public",
) -> Response:
    """The newest scored attempt's record of `split` (a zip; check it with `unlearn verify`)."""
    if split not in sight(user, submission, utcnow()).splits:
        raise APIError(404, f"the {split} record is shown once the phase ends")
    for result in crud.results_for(session, submission_id=submission.id, splits=[split]):
        key = evaluation_record_key(submission.id, result.attempt, split)
        if store.exists(key):
            name = f"record-{submission.id}-{split}-attempt-{result.attempt}.zip"
            return Response(
                store.get_bytes(key),
                media_type="application/zip",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
    raise APIError(404, f"no {split} record for this submission (its {split} split is not scored)")
