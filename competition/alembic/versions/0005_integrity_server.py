"""integrity, server side: hidden leaderboard seeds, frozen private boards, failure split

- `phase_secrets`: each phase's public and private forget-set seeds, apart from `phases` so
  that nothing built from a phase row can show them. Existing phases published theirs in
  `split_spec` (or used the defaults 1 and 2), so they get fresh random seeds here, and
  those keys leave `split_spec`; a `dev_seed` (the published development split) is added
  where missing. Their references are rebuilt on the next evaluation (the cache key holds
  the seeds); scores made with the old seeds should be rescored.
- `leaderboard_snapshots`: private boards frozen at a phase's end, one row per version.
- `submissions.failure_split`: which split's run failed, so a private one shows its
  category only.

Revision ID: 0005_integrity_server
Revises: 0004
Create Date: 2026-12-01 20:40:00
"""

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005_integrity_server"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_KEYS = ("public_seed", "private_seed")


def upgrade() -> None:
    op.create_table(
        "phase_secrets",
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("public_seed", sa.BigInteger(), nullable=False),
        sa.Column("private_seed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("phase_id"),
    )
    op.create_table(
        "leaderboard_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("board", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phase_id", "split", "version"),
    )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("failure_split", sa.String(length=10), nullable=True))
    _move_seeds_out_of_split_spec()


def _move_seeds_out_of_split_spec() -> None:
    conn = op.get_bind()
    phases = sa.table("phases", sa.column("id", sa.Integer), sa.column("split_spec", sa.JSON))
    hidden = sa.table(
        "phase_secrets",
        sa.column("phase_id", sa.Integer),
        sa.column("public_seed", sa.BigInteger),
        sa.column("private_seed", sa.BigInteger),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    for phase_id, spec in conn.execute(sa.select(phases.c.id, phases.c.split_spec)).all():
        spec = json.loads(spec) if isinstance(spec, str) else dict(spec or {})
        for key in SEED_KEYS:
            spec.pop(key, None)
        spec.setdefault("dev_seed", secrets.randbelow(2**31))
        public, private = secrets.randbits(62), secrets.randbits(62)
        conn.execute(phases.update().where(phases.c.id == phase_id).values(split_spec=spec))
        conn.execute(
            hidden.insert().values(
                phase_id=phase_id, public_seed=public, private_seed=private, created_at=now
            )
        )


def downgrade() -> None:
    # The seeds stay out of split_spec: putting them back would publish them.
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("failure_split")
    op.drop_table("leaderboard_snapshots")
    op.drop_table("phase_secrets")
