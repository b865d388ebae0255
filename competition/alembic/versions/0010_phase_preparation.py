"""phase_preparations: the training of each split's reference models (competition.preparation)

Revision ID: 0010_phase_preparation
Revises: 0009_interface
Create Date: 2026-12-02 01:00:00

Phases created before this revision have no rows: they read as pending, and the first
submission (or the reconciler) prepares them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_phase_preparation"
down_revision: str | None = "0009_interface"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phase_preparations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retrain_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phase_id", "split"),
    )
    op.create_index("ix_phase_preparations_phase_id", "phase_preparations", ["phase_id"])


def downgrade() -> None:
    op.drop_index("ix_phase_preparations_phase_id", table_name="phase_preparations")
    op.drop_table("phase_preparations")
