"""Leaderboards: their rows, frozen snapshots and a refreeze request."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Split


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
    provisional_runs: int | None = Field(
        default=None,
        description="racing stopped this row after this many runs (below the phase's N): "
        "it could not reach the top k; None: scored at the full N",
    )


class Leaderboard(BaseModel):
    phase_id: int
    split: Split
    final: bool = Field(description="private board built from each team's final selection")
    rows: list[LeaderboardRow]
    generated_at: datetime
    frozen_at: datetime | None = Field(
        default=None, description="private board after the phase's end: when it was frozen"
    )
    snapshot_version: int | None = Field(
        default=None, description="1: frozen at the end; higher: refrozen by an organizer"
    )


class RefreezeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SnapshotPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    created_at: datetime
    created_by: int | None = Field(description="the organizer; null: frozen at the end")
    reason: str
