"""phases.interface: the batch shape a phase's submissions receive (tuple, kaggle2023)

Revision ID: 0006_interface
Revises: 0004
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_interface"
down_revision: str | None = "0008_racing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.add_column(
            sa.Column("interface", sa.String(length=32), nullable=False, server_default="tuple")
        )


def downgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.drop_column("interface")
