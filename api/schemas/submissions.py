"""Submissions: what one shows, its events, result, progress and logs, and an organizer's
disqualification.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ErrorDetail, Split
from competition.models import FailureCategory, SubmissionStatus


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
    disqualified_reason: str = ""
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


class SplitProgress(BaseModel):
    split: Split
    runs_done: int = Field(description="unlearning runs whose outputs are stored")
    runs_total: int = Field(description="the phase's N")


class ProgressPublic(BaseModel):
    """Where a running evaluation stands, for the live page and `unlearn submit --wait`."""

    submission_id: int
    status: SubmissionStatus
    stage: str = Field(description="what is happening now, in words")
    terminal: bool
    disqualified: bool
    disqualified_reason: str
    splits: list[SplitProgress]
    elapsed_s: float | None = Field(description="since the evaluation of this attempt started")
    remaining_s: float | None = Field(description="estimate from the runs done so far")
    public_score: float | None
    failure_category: FailureCategory | None
    failure_message: str


class LogsPublic(BaseModel):
    submission_id: int
    shown: bool = Field(description="false when the phase hides logs from participants")
    text: str
    failure_category: FailureCategory | None


class DisqualifyRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
