"""Accounts: users, teams and their join codes, API tokens."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from api.security import hash_password, hash_token, new_token, verify_password
from competition.errors import Conflict, NotFound
from competition.models import ApiToken, Role, Submission, Team, TokenKind, User, utcnow
from competition.records import commit_or_conflict

logger = logging.getLogger(__name__)
MIN_PASSWORD_LENGTH = 8  # as RegisterRequest asks
# What sign-up says when the e-mail has an account: not that it has one (review F15).
ACCOUNT_REFUSED = (
    "no account was created with these details; if you have an account already, log in "
    "instead (an organizer can reset a forgotten password)"
)

__all__ = [
    "ACCOUNT_REFUSED",
    "authenticate",
    "change_password",
    "create_team",
    "create_token",
    "create_user",
    "join_team",
    "leave_team",
    "list_teams",
    "list_tokens",
    "list_users",
    "move_to_team",
    "revoke_token",
    "revoke_token_by_plaintext",
    "team_members",
    "user_for_token",
]


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role = Role.PARTICIPANT,
    team_name: str | None = None,
    join_code: str | None = None,
) -> User:
    """A new account. Participants always belong to a team: joined by code, named, or solo.

    A taken e-mail raises `Conflict(ACCOUNT_REFUSED)`, which does not name the address, after
    the same password hashing as a new account, so neither the text nor the time says it
    exists."""
    email = email.strip().lower()
    password_hash = hash_password(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(ACCOUNT_REFUSED)
    team: Team | None = None
    if join_code:
        team = session.scalar(select(Team).where(Team.join_code == join_code))
        if team is None:
            raise NotFound("no team has this join code; ask a team mate for the current one")
    elif role == Role.PARTICIPANT:
        team = _new_team(session, team_name or display_name)
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        team=team,
    )
    session.add(user)
    commit_or_conflict(session, ACCOUNT_REFUSED)  # a concurrent sign-up took the e-mail
    return user


def _new_team(session: Session, name: str) -> Team:
    name = name.strip()
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"team name {name!r} is taken; choose another or join with a code")
    team = Team(name=name, join_code=secrets.token_urlsafe(12))
    session.add(team)
    return team


def create_team(session: Session, *, user: User, name: str) -> Team:
    _refuse_team_change_after_submitting(session, user)
    team = _new_team(session, name)
    user.team = team
    commit_or_conflict(session, f"team name {name!r} is taken")
    return team


def join_team(session: Session, *, user: User, join_code: str) -> Team:
    _refuse_team_change_after_submitting(session, user)
    team = session.scalar(select(Team).where(Team.join_code == join_code))
    if team is None:
        raise NotFound("no team has this join code; ask a team mate for the current one")
    user.team = team
    session.commit()
    return team


def leave_team(session: Session, *, user: User) -> None:
    """Leave the team (before one's first submission); an emptied team is removed."""
    _refuse_team_change_after_submitting(session, user)
    team = user.team
    if team is None:
        raise Conflict("you are not in a team")
    user.team = None
    session.flush()
    others = session.scalar(select(func.count()).select_from(User).where(User.team_id == team.id))
    used = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.team_id == team.id)
    )
    if not others and not used:
        session.delete(team)
    session.commit()


def change_password(
    session: Session, *, user: User, current: str, new: str, keep_token: str | None = None
) -> int:
    """Replace the password after checking the current one, and end every other browser
    session of the user (whoever knew the old password is logged out); `keep_token` is the
    plaintext of the session that made the change. API tokens stay: they are revoked one by
    one (`revoke_token`). Returns how many sessions were ended."""
    if not verify_password(current, user.password_hash):
        raise Conflict("the current password is wrong")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise Conflict(f"the new password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(new)
    others = update(ApiToken).where(
        ApiToken.user_id == user.id,
        ApiToken.kind == TokenKind.SESSION,
        ApiToken.revoked.is_(False),
    )
    if keep_token:
        others = others.where(ApiToken.token_hash != hash_token(keep_token))
    ended = cast("CursorResult[Any]", session.execute(others.values(revoked=True))).rowcount
    session.commit()
    logger.info("user %d changed the password; %d other sessions ended", user.id, ended)
    return int(ended)


def _require_participant(user: User) -> None:
    if user.role != Role.PARTICIPANT:
        raise Conflict("organizers do not belong to teams")


def _refuse_team_change_after_submitting(session: Session, user: User) -> None:
    # Moving teams after submitting would reset the daily quota; refuse it.
    _require_participant(user)
    has_submissions = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.user_id == user.id)
    )
    if has_submissions:
        raise Conflict("you have already submitted; ask an organizer to change your team")


def move_to_team(session: Session, *, user_id: int, team_id: int) -> User:
    """An organizer's move of a participant, allowed after submitting: the submissions made
    so far stay with the team they were made for (quota, leaderboard rows, final pick)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    _require_participant(user)
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team {team_id}")
    previous = user.team_id
    user.team = team
    session.commit()
    logger.info("user %d moved from team %s to team %d", user.id, previous, team.id)
    return user


def list_users(
    session: Session, *, limit: int, offset: int, team_id: int | None = None
) -> tuple[list[User], int]:
    query = select(User) if team_id is None else select(User).where(User.team_id == team_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


def list_teams(session: Session, *, limit: int, offset: int) -> tuple[list[Team], int]:
    total = session.scalar(select(func.count()).select_from(Team)) or 0
    rows = session.scalars(select(Team).order_by(Team.id).limit(limit).offset(offset))
    return list(rows), total


def team_members(session: Session, team_id: int) -> list[str]:
    return list(
        session.scalars(select(User.display_name).where(User.team_id == team_id).order_by(User.id))
    )


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(password, user.password_hash if user else None):
        return None
    return user if user is not None and user.is_active else None


def create_token(
    session: Session, *, user: User, kind: TokenKind, ttl: timedelta, name: str = ""
) -> tuple[str, ApiToken]:
    """A new secret for `user`; returns the plaintext (shown once) and the stored row."""
    plaintext, digest = new_token()
    token = ApiToken(
        user_id=user.id, kind=kind, name=name, token_hash=digest, expires_at=utcnow() + ttl
    )
    session.add(token)
    session.commit()
    return plaintext, token


def user_for_token(session: Session, plaintext: str) -> User | None:
    row = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(plaintext), ApiToken.revoked.is_(False))
    ).first()
    if row is None or row[1] <= utcnow() or not row[0].is_active:
        return None
    return row[0]


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.kind == TokenKind.API,
                ApiToken.revoked.is_(False),
            )
            .order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, *, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked:
        raise NotFound(f"token {token_id} not found")
    token.revoked = True
    session.commit()


def revoke_token_by_plaintext(session: Session, plaintext: str) -> None:
    session.execute(
        update(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)).values(revoked=True)
    )
    session.commit()
