"""The organizers' console: queue and worker overview."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from competition.models import FailureCategory, SubmissionStatus


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
