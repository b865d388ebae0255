"""The organizer's console pages: create and edit a phase in a form (validated by
`api.schemas.PhaseCreate`/`PhaseUpdate`, errors beside the fields; the experiment's fields
only before the first submission), delete a phase nobody submitted to, archive one that has
submissions, prepare a phase again after its preparation failed. Create, edit and prepare
are `api.services.phases`' use-cases, as the JSON routes call them. The queue, workers and
submissions are on `/admin` (`api.pages.admin`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import crud, schemas, services
from api.deps import OptionalUser, SessionDep, get_queue
from api.pages import phase_form, words
from api.pages.errors import Link, render_error
from api.pages.render import login_redirect, render
from competition.models import Phase, User

__all__ = ["router"]

router = APIRouter(prefix="/admin/phases")

# What `PhaseUpdate` accepts, as the JSON API: the experiment's fields only before the first
# submission (a change prepares the phase again).
EDITABLE_BEFORE_SUBMISSIONS = tuple(schemas.PhaseUpdate.model_fields)
EDITABLE = tuple(f for f in EDITABLE_BEFORE_SUBMISSIONS if f not in schemas.EXPERIMENT_FIELDS)


def _forbidden(request: Request, user: User | None) -> Response | None:
    if user is None:
        return login_redirect(request)
    if not user.is_organizer:
        return render_error(request, user, 403, "The console is for organizers.")
    return None


async def _raw_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


def _editable(session: Session, phase: Phase) -> tuple[str, ...]:
    scored = crud.submission_count(session, phase, scored_only=True)
    return EDITABLE if scored else EDITABLE_BEFORE_SUBMISSIONS


def _form(
    request: Request, user: User, *, phase: Phase | None, values: dict[str, str],
    errors: dict[str, str], status_code: int = 200, editable: tuple[str, ...] = EDITABLE,
) -> HTMLResponse:  # fmt: skip
    return render(
        request,
        "phase_form.html",
        user,
        status_code,
        phase=phase,
        values=values,
        errors=phase_form.in_form_order(errors),
        editable=editable if phase else None,
        fields=phase_form.FIELDS,
        groups=phase_form.GROUPS,
        choices=phase_form.choices,
        labels={field.name: field.label for field in phase_form.FIELDS},
    )


@router.get("/new", response_class=HTMLResponse)
def new_phase_form(request: Request, user: OptionalUser) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    return _form(request, user, phase=None, values=phase_form.form_values(None), errors={})


@router.post("/new", response_class=HTMLResponse)
async def create_phase(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    raw = await _raw_form(request)
    data, errors = phase_form.form_body(raw, None, None)
    body = None
    try:
        body = schemas.PhaseCreate.model_validate(data)
    except ValidationError as exc:
        errors = {**phase_form.field_errors(exc), **errors}
    if body is None or errors:
        return _form(request, user, phase=None, values=raw, errors=errors, status_code=422)
    try:
        phase = services.phases.create(session, get_queue(request), body=body)
    except crud.CrudError as exc:
        errors = {"name": words.sentence(exc.message) + "."}
        return _form(request, user, phase=None, values=raw, errors=errors, status_code=409)
    return RedirectResponse(f"/phases/{phase.id}?notice=phase-created", status_code=303)


@router.get("/{phase_id}/edit", response_class=HTMLResponse)
def edit_phase_form(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser
) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    phase = crud.get_phase(session, phase_id)
    return _form(
        request,
        user,
        phase=phase,
        values=phase_form.form_values(phase),
        errors={},
        editable=_editable(session, phase),
    )


@router.post("/{phase_id}/edit", response_class=HTMLResponse)
async def edit_phase(
    request: Request, phase_id: int, session: SessionDep, user: OptionalUser
) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    phase = crud.get_phase(session, phase_id)
    editable = _editable(session, phase)
    raw = await _raw_form(request)
    data, errors = phase_form.form_body(raw, editable, phase)
    try:
        body = schemas.PhaseUpdate.model_validate(data)
        if not errors:
            services.phases.edit(session, get_queue(request), phase=phase, body=body)
    except ValidationError as exc:
        errors = {**phase_form.field_errors(exc), **errors}
    except crud.CrudError as exc:
        errors = phase_form.message_errors(exc.message)
    if errors:
        session.rollback()
        values = {**phase_form.form_values(phase), **raw}
        return _form(
            request,
            user,
            phase=phase,
            values=values,
            errors=errors,
            status_code=422,
            editable=editable,
        )
    return RedirectResponse(f"/phases/{phase.id}?notice=phase-saved", status_code=303)


@router.post("/{phase_id}/{action}", response_class=HTMLResponse)
def phase_action(
    request: Request, phase_id: int, action: str, session: SessionDep, user: OptionalUser
) -> Response:
    """delete (no submissions), archive, unarchive, prepare (again)."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    phase = crud.get_phase(session, phase_id)
    try:
        if action == "delete":
            crud.delete_phase(session, phase)
        elif action in ("archive", "unarchive"):
            crud.archive_phase(session, phase, archived=action == "archive")
        elif action == "prepare":
            services.phases.prepare_again(session, get_queue(request), phase=phase)
            return RedirectResponse(f"/phases/{phase_id}#preparation", status_code=303)
        else:
            return render_error(request, user, 404, "No such phase action.", phase=phase)
    except crud.CrudError as exc:
        session.rollback()
        edit = Link(f"/admin/phases/{phase_id}/edit", "Back to the phase's settings")
        return render_error(request, user, 409, exc.message, links=[edit], phase=phase)
    return RedirectResponse(f"/admin?done={action}d+phase+{phase_id}#phases", status_code=303)
