"""phases.efficiency_gate -> phases.max_run_fraction: the efficiency gate's limit under the
one name the phase model (`harness.phase.PhaseConfig`), the API and the form use

Revision ID: 0012_max_run_fraction
Revises: 0011_report_shape
Create Date: 2026-12-07 05:00:00

A rename: every stored phase keeps its value.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_max_run_fraction"
down_revision: str | None = "0011_report_shape"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.alter_column("efficiency_gate", new_column_name="max_run_fraction")


def downgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.alter_column("max_run_fraction", new_column_name="efficiency_gate")
