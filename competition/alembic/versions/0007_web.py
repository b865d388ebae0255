"""The web pages' columns: a disqualification's reason, archived phases, seeds done per shard

Revision ID: 0007_web
Revises: 0004
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_web"
down_revision: str | None = "0005_integrity_server"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column("disqualified_reason", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("phases") as batch:
        batch.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("shard_runs") as batch:
        batch.add_column(sa.Column("seeds_done", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("shard_runs") as batch:
        batch.drop_column("seeds_done")
    with op.batch_alter_table("phases") as batch:
        batch.drop_column("archived")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("disqualified_reason")
