"""Submission pages: the upload form and its post, a team's list of submissions, and one
submission's page (state, history, progress, report with plots, logs where shown, quota
left today). Every action is a use-case of `api.services.submissions`, as the JSON routes
call it; a refusal comes back as the form with the reason, or as the error page. The
page's buttons (cancel, final pick) post to the JSON API (`static/app.js`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import crud, services
from api.deps import OptionalUser, QueueDep, SessionDep, SettingsDep, StoreDep
from api.errors import APIError
from api.pages.errors import render_error
from api.pages.render import login_redirect, render
from api.upload import UploadRejected
from api.visibility import sight
from competition.models import Submission, utcnow

__all__ = ["router"]

router = APIRouter()


@router.get("/phases/{phase_id}/submit", response_class=HTMLResponse)
def submit_form(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser
) -> Response:
    if user is None:
        return login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    return render(request, "submit.html", user, phase=phase, problems=[], error=None)


@router.post(
    "/phases/{phase_id}/submit",
    response_class=HTMLResponse,
)
def submit_upload(
    request: Request,
    phase_id: int,
    file: Annotated[UploadFile, File()],
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    queue: QueueDep,
    user: OptionalUser,
) -> Response:
    if user is None:
        return login_redirect(request)
    phase = crud.get_phase(session, phase_id)
    try:
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
    except UploadRejected as exc:
        return render(
            request,
            "submit.html",
            user,
            status_code=422,
            phase=phase,
            problems=exc.problems,
            error="The submission was rejected.",
        )
    except (APIError, crud.CrudError) as exc:
        status = exc.status_code if isinstance(exc, APIError) else 409
        return render(
            request,
            "submit.html",
            user,
            status_code=status,
            phase=phase,
            problems=[],
            error=exc.message,
        )
    return RedirectResponse(f"/submissions/{submission.id}?notice=uploaded", status_code=303)


@router.get("/submissions", response_class=HTMLResponse)
def submissions_page(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return login_redirect(request)
    if not user.is_organizer and user.team_id is None:
        rows: list[Submission] = []
        total = 0
    else:
        rows, total = crud.list_submissions(
            session,
            team_id=None if user.is_organizer else user.team_id,
            phase_id=None,
            status=None,
            limit=100,
            offset=0,
        )
    now = utcnow()
    views = [sight(user, s, now).submission_view() for s in rows]
    names = {s.phase_id: s.phase.name for s in rows}
    return render(
        request, "submissions.html", user, submissions=views, total=total, phase_names=names
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request, submission_id: int, session: SessionDep, store: StoreDep, user: OptionalUser
) -> Response:
    if user is None:
        return login_redirect(request)
    try:
        submission = services.submissions.visible_submission(
            session, viewer=user, submission_id=submission_id
        )
    except crud.NotFound:
        return render_error(
            request, user, 404, f"No submission {submission_id} among those you can see."
        )
    now = utcnow()
    view = sight(user, submission, now)
    logs = services.submissions.read_logs(store, viewer=user, submission=submission, now=now)
    results = crud.results_for(session, submission_id=submission.id, splits=view.splits)
    progress = crud.submission_progress(session, view)
    quota_left = None
    if not user.is_organizer and user.team_id == submission.team_id:
        quota_left = services.phases.quota_today(
            session, phase=submission.phase, team_id=submission.team_id, day=utcnow().date()
        ).remaining
    return render(
        request,
        "submission.html",
        user,
        submission=view.submission_view(),
        phase=submission.phase,
        events=view.events_view(),
        results=results,
        logs=logs.text,
        logs_shown=logs.shown,
        progress=progress,
        quota_left=quota_left,
        runs_done=bool(progress.splits)
        and all(p.runs_done >= p.runs_total for p in progress.splits),
        plot_name=lambda key: Path(key).name,
        plot_alt=_plot_alt,
        plot_reading=_plot_reading,
    )


PLOT_TITLES = {
    "epsilons": "Histogram of per-example epsilon over the forget set; the examples at the "
    "cap have their own bar",
    "worst_examples": "Confidence distributions of the forget examples with the largest "
    "epsilon, unlearned vs retrained",
    "accuracies": "Retain, forget and test accuracy per model, unlearned vs retrained",
}


# One or two sentences under each plot: what to look for.
PLOT_READINGS = {
    "epsilons": "Epsilon is how well the best test on the outputs tells your models from the "
    "retrained ones on one example: bars near 0 are well forgotten examples, bars far right "
    "(and the bar at the cap) are examples that still give the training away.",
    "worst_examples": "Where the two curves overlap the example is forgotten; where they sit "
    "apart a trace remains. These are the examples that cost the most.",
    "accuracies": "Your models should sit where the retrained ones do: lower retain or test "
    "accuracy lowers the score, higher raises the ratios above 1; a forget accuracy well "
    "above the retrained models' shows remembered examples.",
}


def _plot_alt(key: str) -> str:
    stem = Path(key).stem
    return PLOT_TITLES.get(stem, stem.replace("_", " "))


def _plot_reading(key: str) -> str:
    return PLOT_READINGS.get(Path(key).stem, "")
