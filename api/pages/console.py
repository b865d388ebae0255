"""The organizer's console pages: create and edit a phase in a form (validated by
`api.schemas.PhaseCreate`/`PhaseUpdate`, errors beside the fields; the experiment's fields
only before the first submission), delete a phase nobody submitted to, archive one that has
submissions, prepare a phase again after its preparation failed. The queue, workers and
submissions are on `/admin` (`api.pages.admin_page`)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import crud, schemas
from api.deps import OptionalUser, SessionDep, get_queue
from api.pages.errors import Link, render_error
from api.pages.render import login_redirect, render
from competition.models import Phase, User

__all__ = ["router"]

router = APIRouter(prefix="/admin/phases")

TEXT_FIELDS = ("name", "dataset", "model", "estimator")
NUMBER_FIELDS = ("replicas", "efficiency_gate", "daily_quota", "max_in_flight")
JSON_FIELDS = ("split_spec", "recipe")
TIME_FIELDS = ("starts_at", "ends_at")
FLAGS = ("show_logs", "sanity_check_required")
NEW_PHASE_DEFAULTS = {
    "replicas": "8",
    "efficiency_gate": "0.2",
    "daily_quota": "5",
    "max_in_flight": "0",
    "split_spec": "{}",
    "recipe": "{}",
    "sanity_check_required": "on",
}
EDITABLE = ("description", *TIME_FIELDS, "daily_quota", "max_in_flight", *FLAGS)
# Before the first submission the experiment can change too (and is prepared again).
EDITABLE_BEFORE_SUBMISSIONS = (
    *EDITABLE,
    "dataset",
    "model",
    "estimator",
    "replicas",
    "efficiency_gate",
    *JSON_FIELDS,
)


def _forbidden(request: Request, user: User | None) -> Response | None:
    if user is None:
        return login_redirect(request)
    if not user.is_organizer:
        return render_error(request, user, 403, "The console is for organizers.")
    return None


def _time(value: str) -> str:
    # A form's "2026-12-01 20:00" is UTC, as the form says; ISO input with a zone is kept.
    text = value.strip().replace(" ", "T")
    if text and not (text.endswith("Z") or "+" in text[10:] or "-" in text[10:]):
        text += "Z"
    return text


def _form_values(phase: Phase | None) -> dict[str, str]:
    if phase is None:
        return dict(NEW_PHASE_DEFAULTS)
    values = {name: str(getattr(phase, name)) for name in (*TEXT_FIELDS, *NUMBER_FIELDS)}
    values["description"] = phase.description
    for name in JSON_FIELDS:
        values[name] = json.dumps(getattr(phase, name))
    for name in TIME_FIELDS:
        values[name] = getattr(phase, name).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    for name in FLAGS:
        values[name] = "on" if getattr(phase, name) else ""
    return values


def _parse(raw: dict[str, str], fields: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form strings -> the schema's input; JSON fields that do not parse are errors here."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in fields:
        value = raw.get(name, "")
        if name in FLAGS:
            data[name] = value == "on"
        elif name in JSON_FIELDS:
            try:
                data[name] = json.loads(value or "{}")
            except json.JSONDecodeError as exc:
                example = '{"epochs": 3}'
                errors[name] = f"Not JSON ({exc.msg} at column {exc.colno}); e.g. {example}."
        elif name in TIME_FIELDS:
            data[name] = _time(value)
        elif value.strip() or name not in NUMBER_FIELDS:
            data[name] = value.strip() if name != "description" else value
    return data, errors


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        field = str(err["loc"][0]) if err["loc"] else "form"
        if field == "form" and "ends_at" in message:
            field = "ends_at"  # the schema's check of the two dates, shown by the second
        found.setdefault(field, message + ".")
    return found


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
        errors=errors,
        editable=editable if phase else None,
    )


@router.get("/new", response_class=HTMLResponse)
def new_phase_form(request: Request, user: OptionalUser) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    return _form(request, user, phase=None, values=_form_values(None), errors={})


@router.post("/new", response_class=HTMLResponse)
async def create_phase(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if (refused := _forbidden(request, user)) is not None:
        return refused
    assert user is not None
    raw = await _raw_form(request)
    fields = ("description", *TEXT_FIELDS, *NUMBER_FIELDS, *JSON_FIELDS, *TIME_FIELDS, *FLAGS)
    data, errors = _parse(raw, fields)
    body = None
    try:
        body = schemas.PhaseCreate.model_validate(data)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if body is None or errors:
        return _form(request, user, phase=None, values=raw, errors=errors, status_code=422)
    try:
        phase = crud.create_phase(session, body)
    except crud.CrudError as exc:
        return _form(
            request, user, phase=None, values=raw, errors={"name": exc.message}, status_code=409
        )
    get_queue(request).prepare_phase(phase.id)
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
        values=_form_values(phase),
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
    data, errors = _parse(raw, editable)
    retrain = False
    try:
        body = schemas.PhaseUpdate.model_validate(data)
        if not errors:
            retrain = crud.update_phase(session, phase, body)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    except crud.CrudError as exc:
        field = "ends_at" if "ends_at" in exc.message else "form"
        errors = {field: exc.message[0].upper() + exc.message[1:] + "."}
    if errors:
        session.rollback()
        values = {**_form_values(phase), **raw}
        return _form(
            request,
            user,
            phase=phase,
            values=values,
            errors=errors,
            status_code=422,
            editable=editable,
        )
    if retrain:
        get_queue(request).prepare_phase(phase.id)
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
            crud.prepare_again(session, phase)
            get_queue(request).prepare_phase(phase.id)
            return RedirectResponse(f"/phases/{phase_id}#preparation", status_code=303)
        else:
            return render_error(request, user, 404, "No such phase action.", phase=phase)
    except crud.CrudError as exc:
        session.rollback()
        edit = Link(f"/admin/phases/{phase_id}/edit", "Back to the phase's settings")
        return render_error(request, user, 409, exc.message, links=[edit], phase=phase)
    return RedirectResponse(f"/admin?done={action}d+phase+{phase_id}#phases", status_code=303)
