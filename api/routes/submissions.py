"""Submissions over JSON: upload, validate only, read, cancel, choose final, and the
organizer's rescore, disqualify and reinstate; live progress.

Each action is a use-case of `api.services.submissions` (upload order, who may see what,
the enqueue-failure policy live there, shared with the pages); a route parses the request,
makes the call and answers with a schema seen through `api.visibility.sight`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile

from api import crud, services
from api.deps import (
    CurrentUser,
    Organizer,
    PaginationDep,
    PathId,
    QueueDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    VisibleSubmission,
)
from api.errors import ERROR_RESPONSES, APIError
from api.schemas import (
    DisqualifyRequest,
    ErrorDetail,
    LogsPublic,
    Page,
    ProgressPublic,
    ResultPublic,
    SubmissionEventPublic,
    SubmissionPublic,
    ValidationReport,
)
from api.upload import UploadRejected
from api.visibility import sight
from competition.models import SubmissionStatus, utcnow

router = APIRouter(tags=["submissions"], responses=ERROR_RESPONSES)
UploadFileDep = Annotated[UploadFile, File(description="a .py file or a .zip with submission.py")]


@router.post(
    "/phases/{phase_id}/submissions",
    response_model=SubmissionPublic,
    status_code=201,
)
def upload_submission(
    phase_id: PathId,
    request: Request,
    file: UploadFileDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    queue: QueueDep,
    user: CurrentUser,
) -> SubmissionPublic:
    """Upload a `.py` file or a `.zip` with `submission.py`; spends one of today's quota."""
    submission = services.submissions.submit(
        session,
        settings=settings,
        store=store,
        queue=queue,
        user=user,
        phase_id=phase_id,
        file=file.file,
        filename=file.filename,
        declared_bytes=request.headers.get("content-length"),
    )
    return sight(user, submission, utcnow()).submission_view()


@router.post(
    "/submissions/validate",
    response_model=ValidationReport,
)
def validate_only(
    request: Request,
    file: UploadFileDep,
    settings: SettingsDep,
    session: SessionDep,
    _user: CurrentUser,
    phase_id: Annotated[
        int | None, Query(ge=1, description="check as this phase's interface calls it")
    ] = None,
) -> ValidationReport:
    """Run the static checks only: no quota spent, nothing stored. With `phase_id`, the
    parameters that phase's interface fills (its device) count as given."""
    data = services.submissions.read_code(
        file.file, declared_bytes=request.headers.get("content-length"), settings=settings
    )
    try:
        upload = services.submissions.validate(
            session,
            settings,
            filename=file.filename or "submission.py",
            data=data,
            phase_id=phase_id,
        )
    except UploadRejected as exc:
        return ValidationReport(
            valid=False,
            problems=[
                ErrorDetail(message=p.message, file=p.file, line=p.line, column=p.column)
                for p in exc.problems
            ],
        )
    return ValidationReport(valid=True, kind=upload.kind, sha256=upload.sha256)


@router.get("/submissions", response_model=Page[SubmissionPublic])
def list_submissions(
    session: SessionDep,
    user: CurrentUser,
    page: PaginationDep,
    phase_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: SubmissionStatus | None = None,
    team_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="organizers only; others see their team")
    ] = None,
) -> Page[SubmissionPublic]:
    """Your team's submissions, newest first (organizers: every team's, or `team_id`'s).
    A team's `status` filter applies to the status it is shown (`api.visibility`)."""
    now = utcnow()
    if user.is_organizer:
        rows, total = crud.list_submissions(
            session,
            team_id=team_id,
            phase_id=phase_id,
            status=status,
            limit=page.limit,
            offset=page.offset,
        )
        return page.page([sight(user, s, now).submission_view() for s in rows], total)
    if user.team_id is None:
        return page.page([], 0)
    # A team's own rows are few (its quota over the phase); filtering on what it is shown
    # keeps a hidden status (a private stage still running, a private failure) unreadable.
    rows, _ = crud.list_submissions(
        session, team_id=user.team_id, phase_id=phase_id, status=None, limit=None, offset=0
    )
    views = [sight(user, s, now).submission_view() for s in rows]
    if status is not None:
        views = [v for v in views if v.status == status]
    return page.page(views[page.offset : page.offset + page.limit], len(views))


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic)
def read_submission(submission: VisibleSubmission, user: CurrentUser) -> SubmissionPublic:
    return sight(user, submission, utcnow()).submission_view()


@router.get("/submissions/{submission_id}/progress", response_model=ProgressPublic)
def read_progress(
    submission: VisibleSubmission, session: SessionDep, user: CurrentUser
) -> ProgressPublic:
    """Stage, runs done out of N per split you may see, elapsed and estimated time left."""
    return crud.submission_progress(session, sight(user, submission, utcnow()))


@router.get("/submissions/{submission_id}/events", response_model=list[SubmissionEventPublic])
def read_events(submission: VisibleSubmission, user: CurrentUser) -> list[SubmissionEventPublic]:
    """Every status transition you may see with its time, oldest first."""
    return sight(user, submission, utcnow()).events_view()


@router.get(
    "/submissions/{submission_id}/code",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_code(submission: VisibleSubmission, store: StoreDep) -> Response:
    """The uploaded file, byte for byte."""
    data = store.get_bytes(submission.code_key)
    name = f"submission-{submission.id}.{submission.kind}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/submissions/{submission_id}/logs", response_model=LogsPublic)
def read_logs(submission: VisibleSubmission, store: StoreDep, user: CurrentUser) -> LogsPublic:
    """The run's output, where the phase and the stage let you see it (`shown`)."""
    return services.submissions.read_logs(store, viewer=user, submission=submission)


@router.get("/submissions/{submission_id}/results", response_model=list[ResultPublic])
def read_results(
    submission: VisibleSubmission, session: SessionDep, user: CurrentUser
) -> list[ResultPublic]:
    """Scores and full reports of the newest attempt per split you may see."""
    splits = sight(user, submission, utcnow()).splits
    return [
        ResultPublic(
            split=r.split,  # type: ignore[arg-type]
            attempt=r.attempt,
            estimator=r.estimator,
            score=r.score,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            forget_quality=r.forget_quality,
            noise_floor=r.noise_floor,
            report=r.report,
            plots=[PurePosixPath(k).name for k in r.plot_keys],
            created_at=r.created_at,
        )
        for r in crud.results_for(session, submission_id=submission.id, splits=splits)
    ]


@router.get(
    "/submissions/{submission_id}/artifacts/{name}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def read_artifact(
    name: Annotated[str, Path(max_length=200)],
    submission: VisibleSubmission,
    session: SessionDep,
    store: StoreDep,
    user: CurrentUser,
) -> Response:
    """A plot of a visible report, by the name listed in `plots`."""
    splits = sight(user, submission, utcnow()).splits
    for result in crud.results_for(session, submission_id=submission.id, splits=splits):
        for key in result.plot_keys:
            if PurePosixPath(key).name == name and store.exists(key):
                media = "image/png" if name.endswith(".png") else "application/octet-stream"
                return Response(store.get_bytes(key), media_type=media)
    raise APIError(404, f"no artifact {name!r} in this submission's visible reports")


@router.post("/submissions/{submission_id}/cancel", response_model=SubmissionPublic)
def cancel(submission_id: PathId, session: SessionDep, user: CurrentUser) -> SubmissionPublic:
    """Cancel; refunded if the evaluation had not started."""
    updated = services.submissions.cancel(session, viewer=user, submission_id=submission_id)
    return sight(user, updated, utcnow()).submission_view()


@router.post("/submissions/{submission_id}/final", response_model=SubmissionPublic)
def select_final(submission_id: PathId, session: SessionDep, user: CurrentUser) -> SubmissionPublic:
    """Choose this submission for your team's private-leaderboard row (default: best public)."""
    updated = services.submissions.choose_final(session, viewer=user, submission_id=submission_id)
    return sight(user, updated, utcnow()).submission_view()


@router.post("/submissions/{submission_id}/rescore", response_model=SubmissionPublic)
def rescore(
    submission_id: PathId,
    session: SessionDep,
    queue: QueueDep,
    organizer: Organizer,
) -> SubmissionPublic:
    """Organizers: evaluate again as a new attempt of the same submission."""
    submission = services.submissions.rescore(session, queue, submission_id=submission_id)
    return sight(organizer, submission, utcnow()).submission_view()


@router.post("/submissions/{submission_id}/disqualify", response_model=SubmissionPublic)
def disqualify(
    submission_id: PathId,
    body: DisqualifyRequest,
    request: Request,
    session: SessionDep,
    organizer: Organizer,
) -> SubmissionPublic:
    """Organizers: remove a submission from every leaderboard (recorded with the reason)."""
    submission = crud.disqualify(session, submission_id=submission_id, reason=body.reason)
    request.app.state.leaderboard_cache.invalidate()
    return sight(organizer, submission, utcnow()).submission_view()


@router.post("/submissions/{submission_id}/reinstate", response_model=SubmissionPublic)
def reinstate(
    submission_id: PathId,
    request: Request,
    session: SessionDep,
    organizer: Organizer,
) -> SubmissionPublic:
    """Organizers: undo a disqualification (recorded in the history)."""
    submission = crud.reinstate(session, submission_id=submission_id)
    request.app.state.leaderboard_cache.invalidate()
    return sight(organizer, submission, utcnow()).submission_view()
