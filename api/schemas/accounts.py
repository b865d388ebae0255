"""Accounts, API tokens and teams: sign-up and log-in bodies, what a user and a team show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EMAIL_PATTERN
from competition.models import Role


class LoginRequest(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RegisterRequest(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    password: str = Field(min_length=8, max_length=1024)
    display_name: str = Field(min_length=1, max_length=100)
    team_name: str | None = Field(default=None, min_length=1, max_length=100)
    join_code: str | None = Field(default=None, min_length=1, max_length=64)


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime


class TokenCreated(TokenPublic):
    token: str = Field(description="the secret; shown once, store it now")


class TeamPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class TeamPrivate(TeamPublic):
    join_code: str = Field(description="give this to team mates so they can join")
    members: list[str]


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TeamJoin(BaseModel):
    join_code: str = Field(min_length=1, max_length=64)


class TeamMove(BaseModel):
    team_id: int = Field(ge=1)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    role: Role
    team_id: int | None
