"""FastAPI dependencies, exported as `Annotated` aliases so route signatures read as prose.

`SessionDep`, `SettingsDep`, `StoreDep`, `QueueDep` come from `app.state` (set by
`create_app`). Authentication accepts `Authorization: Bearer <token>` (API clients) or the
`unlearn_session` cookie (browsers). `CurrentUser` demands a login (401), `Organizer` the
organizer role (403). `VisibleSubmission` is `api.services.submissions.visible_submission`
as a dependency: a participant asking for another team's submission gets 404, so existence
does not leak.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from api import crud, services
from api.errors import APIError
from api.leaderboard import LeaderboardCache
from api.schemas import Page
from competition.artifacts import ArtifactStore
from competition.models import Submission, User
from competition.queue import EvaluationQueue
from competition.settings import Settings

T = TypeVar("T")

SESSION_COOKIE = "unlearn_session"


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_store(request: Request) -> ArtifactStore:
    return request.app.state.store  # type: ignore[no-any-return]


def get_queue(request: Request) -> EvaluationQueue:
    return request.app.state.queue  # type: ignore[no-any-return]


def get_leaderboard_cache(request: Request) -> LeaderboardCache:
    return request.app.state.leaderboard_cache  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
QueueDep = Annotated[EvaluationQueue, Depends(get_queue)]
LeaderboardCacheDep = Annotated[LeaderboardCache, Depends(get_leaderboard_cache)]


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    token = request_token(request)
    if not token or len(token) > 200:
        return None
    return crud.user_for_token(session, token)


def get_current_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    if user is None:
        raise APIError(
            401,
            "log in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/login)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def get_organizer(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_organizer:
        raise APIError(403, "this action is reserved for organizers")
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
Organizer = Annotated[User, Depends(get_organizer)]


# A row id in a path: positive and within the databases' 32-bit keys, so an out-of-range
# id is a 422 that says so, not a database error.
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_visible_submission(
    submission_id: PathId,
    session: SessionDep,
    user: CurrentUser,
) -> Submission:
    return services.submissions.visible_submission(
        session, viewer=user, submission_id=submission_id
    )


VisibleSubmission = Annotated[Submission, Depends(get_visible_submission)]


@dataclass(frozen=True)
class Pagination:
    limit: int
    offset: int

    def page(self, data: Sequence[T], total: int) -> Page[T]:
        """This page of `total` items."""
        return Page(data=list(data), count=total, limit=self.limit, offset=self.offset)


def get_pagination(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=500, description="page size")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Pagination:
    settings: Settings = request.app.state.settings
    size = limit or settings.default_page_size
    return Pagination(limit=min(size, settings.max_page_size), offset=offset)


PaginationDep = Annotated[Pagination, Depends(get_pagination)]
