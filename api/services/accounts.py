"""Account use-cases: a participant's sign-up and an organizer's account.

Sign-up is open only while `Settings.allow_registration` is (403 otherwise); the account's
rules (a participant always in a team, a taken e-mail refused without saying so) are
`api.crud.accounts.create_user`'s. Organizer accounts come from organizers
(`POST /api/v1/admin/organizers`) or, for the first, from `unlearn admin create-organizer`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api import crud
from api.errors import APIError
from competition.models import Role, User
from competition.settings import Settings

__all__ = ["REGISTRATION_CLOSED", "create_organizer", "register", "registration_open"]

REGISTRATION_CLOSED = "registration is closed; ask an organizer for an account"


def registration_open(settings: Settings) -> bool:
    return settings.allow_registration


def register(
    session: Session,
    settings: Settings,
    *,
    email: str,
    password: str,
    display_name: str,
    team_name: str | None = None,
    join_code: str | None = None,
) -> User:
    """A participant account in a new team (`team_name`, else one named after them) or the
    team of `join_code` (`NotFound` when no team has it)."""
    if not registration_open(settings):
        raise APIError(403, REGISTRATION_CLOSED)
    return crud.create_user(
        session,
        email=email,
        password=password,
        display_name=display_name,
        team_name=team_name,
        join_code=join_code,
    )


def create_organizer(session: Session, *, email: str, password: str, display_name: str) -> User:
    """An organizer account (no team)."""
    return crud.create_user(
        session, email=email, password=password, display_name=display_name, role=Role.ORGANIZER
    )
