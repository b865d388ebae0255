"""Bodies every resource shares: errors, pages of a list, plain messages."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from harness.phase_schema import LEADERBOARD_SEEDS

T = TypeVar("T")


# Never accepted from, nor shown to, anyone but the server and its organizers.
HIDDEN_SEED_KEYS = LEADERBOARD_SEEDS


Split = Literal["public", "private"]


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ErrorDetail(BaseModel):
    message: str
    field: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable error kind, e.g. `not_found`")
    message: str = Field(description="what went wrong and what to do about it")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorInfo


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="total number of items matching, over all pages")
    limit: int
    offset: int


class Message(BaseModel):
    message: str
