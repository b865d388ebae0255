"""Leaderboard index: each team's best submission of a phase without a sort.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:21:59
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_submissions_board",
        "submissions",
        ["phase_id", "team_id", sa.text("public_score DESC"), "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_board", table_name="submissions")
