"""Tables the pipeline keeps beside the server's: a lease per evaluation attempt, a row per shard.

The submission row (`competition.models.Submission`: status + attempt) says where an evaluation
stands; these rows say who is doing it and whether they are still alive:

- `EvaluationLease` (submission, attempt): the shard plan, `lease_until` pushed forward by
  every heartbeat of any holder, and `recoveries`, how often the reconciler had to step in.
- `ShardRun` (submission, attempt, shard): pending -> running (holder + lease) -> done (the
  key of its compact outputs in the artifact store). A second delivery of a shard finds it
  done, or held by a live holder, and does nothing.
- `PhasePreparation` (phase, split): the training of a phase's original and reference
  models, pending -> preparing (holder + lease, stage and models done) -> ready, or failed
  with the reason (`competition.preparation` holds the rules).

Both live on the server's metadata (`competition.models.Base`) and in its migration history
(`competition/alembic/versions/0003_pipeline_leases.py`); `ensure_schema` brings a database to the
newest migration, as the server does at start.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from competition.db import upgrade_to_head
from competition.models import Base, utcnow

__all__ = [
    "EvaluationLease",
    "PhasePreparation",
    "PreparationState",
    "ShardRun",
    "ShardState",
    "ensure_schema",
]


class ShardState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


class EvaluationLease(Base):
    __tablename__ = "evaluation_leases"
    __table_args__ = (UniqueConstraint("submission_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    shards_total: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(255), default="")
    lease_until: Mapped[datetime]
    recoveries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShardRun(Base):
    __tablename__ = "shard_runs"
    __table_args__ = (UniqueConstraint("submission_id", "attempt", "shard"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    shard: Mapped[int] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(10), default="public")
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[ShardState] = mapped_column(
        Enum(ShardState, native_enum=False, length=10), default=ShardState.PENDING
    )
    holder: Mapped[str] = mapped_column(String(255), default="")
    lease_until: Mapped[datetime | None]
    tries: Mapped[int] = mapped_column(Integer, default=0)
    output_key: Mapped[str] = mapped_column(String(255), default="")
    seconds: Mapped[float | None] = mapped_column(Float)
    # Runs of this shard finished so far, for the live progress (the outputs count at `done`).
    seeds_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreparationState(enum.StrEnum):
    PENDING = "pending"
    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


class PhasePreparation(Base):
    __tablename__ = "phase_preparations"
    __table_args__ = (UniqueConstraint("phase_id", "split"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(10))
    state: Mapped[PreparationState] = mapped_column(
        Enum(PreparationState, native_enum=False, length=10), default=PreparationState.PENDING
    )
    stage: Mapped[str] = mapped_column(String(50), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Why it failed, for organizers (participants see only that the phase cannot run).
    error: Mapped[str] = mapped_column(Text, default="")
    holder: Mapped[str] = mapped_column(String(255), default="")
    lease_until: Mapped[datetime | None]
    retrain_seconds: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def ensure_schema(url: str) -> None:
    """Migrate the database at `url` to the newest schema (a no-op when it is there)."""
    upgrade_to_head(url)
