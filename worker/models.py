"""Tables the pipeline keeps beside the server's: a lease per evaluation attempt, a row per shard.

The submission row (`api.models.Submission`: status + attempt) says where an evaluation
stands; these rows say who is doing it and whether they are still alive:

- `EvaluationLease` (submission, attempt): the shard plan, `lease_until` pushed forward by
  every heartbeat of any holder, and `recoveries`, how often the reconciler had to step in.
- `ShardRun` (submission, attempt, shard): pending -> running (holder + lease) -> done (the
  key of its compact outputs in the artifact store). A second delivery of a shard finds it
  done, or held by a live holder, and does nothing.

Both live on the server's metadata (`api.models.Base`) and in its migration history
(`api/alembic/versions/0003_pipeline_leases.py`); `ensure_schema` brings a database to the
newest migration, as the server does at start.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import upgrade_to_head
from api.models import Base, utcnow

__all__ = ["EvaluationLease", "ShardRun", "ShardState", "ensure_schema"]


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
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def ensure_schema(url: str) -> None:
    """Migrate the database at `url` to the newest schema (a no-op when it is there)."""
    upgrade_to_head(url)
