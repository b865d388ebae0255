"""Request and response bodies of the JSON API (pydantic), one class per direction.

`XCreate`/`XUpdate` come in, `XPublic` goes out; lists are wrapped in `Page[X]`
(`data`, `count`, `limit`, `offset`). Every error body is `ErrorBody`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.models import FailureCategory, Role, SubmissionStatus

T = TypeVar("T")
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


# Accounts ------------------------------------------------------------------------------------


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


# Phases --------------------------------------------------------------------------------------


class PhaseBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=20_000)
    dataset: str = Field(min_length=1, max_length=100)
    split_spec: dict[str, Any] = Field(default_factory=dict)
    model: str = Field(min_length=1, max_length=100)
    recipe: dict[str, Any] = Field(default_factory=dict)
    replicas: int = Field(ge=2, le=10_000, description="unlearning runs (and retrained models) N")
    estimator: str = Field(min_length=1, max_length=50)
    efficiency_gate: float = Field(
        default=0.2, gt=0, le=10, description="max run time as a fraction of retraining time"
    )
    starts_at: datetime
    ends_at: datetime
    daily_quota: int = Field(default=5, ge=0, le=1000)
    max_in_flight: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="a team's submissions being evaluated at once (0: no cap); more are refused",
    )
    show_logs: bool = False
    sanity_check_required: bool = True

    @model_validator(mode="after")
    def _times(self) -> PhaseBase:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone, e.g. 2026-01-01T00:00:00Z")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PhaseCreate(PhaseBase):
    pass


class PhaseUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=20_000)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    daily_quota: int | None = Field(default=None, ge=0, le=1000)
    max_in_flight: int | None = Field(default=None, ge=0, le=1000)
    show_logs: bool | None = None
    sanity_check_required: bool | None = None

    @model_validator(mode="after")
    def _aware(self) -> PhaseUpdate:
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("times need a time zone, e.g. 2026-01-01T00:00:00Z")
        return self


class PhasePublic(PhaseBase):
    model_config = ConfigDict(from_attributes=True)
    id: int


class QuotaPublic(BaseModel):
    phase_id: int
    team_id: int
    day: str
    used: int
    limit: int
    remaining: int


# Submissions ---------------------------------------------------------------------------------


class SubmissionEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_status: SubmissionStatus | None
    to_status: SubmissionStatus
    attempt: int
    note: str
    at: datetime


class SubmissionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    phase_id: int
    team_id: int
    user_id: int
    filename: str
    kind: str
    sha256: str
    size_bytes: int
    status: SubmissionStatus
    attempt: int
    failure_category: FailureCategory | None
    failure_message: str
    counts_against_quota: bool
    sanity_check_passed: bool | None
    disqualified: bool
    is_final: bool
    public_score: float | None
    public_ci_low: float | None
    public_ci_high: float | None
    private_score: float | None = Field(description="null for participants until the phase ends")
    private_ci_low: float | None
    private_ci_high: float | None
    created_at: datetime
    updated_at: datetime


class ValidationReport(BaseModel):
    valid: bool
    kind: str | None = None
    sha256: str | None = None
    problems: list[ErrorDetail] = Field(default_factory=list)


class ResultPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    split: Split
    attempt: int
    estimator: str
    score: float
    ci_low: float | None
    ci_high: float | None
    forget_quality: float | None
    noise_floor: float | None
    report: dict[str, Any]
    plots: list[str] = Field(description="artifact names, fetch with .../artifacts/{name}")
    created_at: datetime


class LogsPublic(BaseModel):
    submission_id: int
    shown: bool = Field(description="false when the phase hides logs from participants")
    text: str
    failure_category: FailureCategory | None


class DisqualifyRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


# Leaderboard ---------------------------------------------------------------------------------


class LeaderboardRow(BaseModel):
    rank: int
    team_id: int
    team_name: str
    submission_id: int
    score: float
    ci_low: float | None
    ci_high: float | None
    tied_with_above: bool = Field(description="confidence intervals overlap with the row above")
    tie_group: int = Field(description="rows chained by overlapping intervals share a group")
    submitted_at: datetime


class Leaderboard(BaseModel):
    phase_id: int
    split: Split
    final: bool = Field(description="private board built from each team's final selection")
    rows: list[LeaderboardRow]
    generated_at: datetime


# Organizer dashboard -------------------------------------------------------------------------


class StatusCount(BaseModel):
    status: SubmissionStatus
    count: int
    oldest_updated_at: datetime | None


class FailureCount(BaseModel):
    category: FailureCategory
    count: int


class WorkerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    hostname: str
    last_seen: datetime
    current_submission_id: int | None


class QueueOverview(BaseModel):
    statuses: list[StatusCount]
    failures: list[FailureCount]
    workers: list[WorkerPublic]
