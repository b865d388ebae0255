"""Accounts and credentials: register, log in/out, who am I, personal API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from api import crud, services
from api.deps import CurrentUser, SessionDep, SettingsDep, request_token
from api.errors import ERROR_RESPONSES, APIError
from api.schemas import (
    LoginRequest,
    Message,
    RegisterRequest,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserPublic,
)
from competition.models import TokenKind

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/auth/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
)
def register(body: RegisterRequest, session: SessionDep, settings: SettingsDep) -> UserPublic:
    """Create a participant account in a new team (`team_name`) or an existing one (`join_code`)."""
    user = services.accounts.register(
        session,
        settings,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        team_name=body.team_name,
        join_code=body.join_code,
    )
    return UserPublic.model_validate(user)


@router.post(
    "/auth/login",
    response_model=TokenCreated,
)
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> TokenCreated:
    """Exchange e-mail and password for a bearer token."""
    user = crud.authenticate(session, email=body.email, password=body.password)
    if user is None:
        raise APIError(401, "wrong e-mail or password", code="invalid_credentials")
    plaintext, token = crud.create_token(
        session,
        user=user,
        kind=TokenKind.API,
        ttl=timedelta(days=settings.api_token_ttl_days),
        name="login",
    )
    return TokenCreated(token=plaintext, **TokenPublic.model_validate(token).model_dump())


@router.post("/auth/logout", response_model=Message)
def logout(request: Request, session: SessionDep, _user: CurrentUser) -> Message:
    """Revoke the token (or session) used for this request."""
    token = request_token(request)
    if token:
        crud.revoke_token_by_plaintext(session, token)
    return Message(message="logged out")


@router.get("/users/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, user: CurrentUser) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in crud.list_tokens(session, user=user)]


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> TokenCreated:
    """A named API token for scripts; the secret is in the response only."""
    plaintext, token = crud.create_token(
        session,
        user=user,
        kind=TokenKind.API,
        ttl=timedelta(days=settings.api_token_ttl_days),
        name=body.name,
    )
    return TokenCreated(token=plaintext, **TokenPublic.model_validate(token).model_dump())


@router.delete("/tokens/{token_id}", response_model=Message)
def revoke_token(token_id: int, session: SessionDep, user: CurrentUser) -> Message:
    crud.revoke_token(session, user=user, token_id=token_id)
    return Message(message=f"token {token_id} revoked")
