"""phases.experiment: a phase's experiment as one JSON column (a `PhaseConfig`), in place of
dataset, split_spec, model, recipe, replicas, estimator, max_run_fraction, interface, racing

Revision ID: 0013_phase_experiment
Revises: 0012_max_run_fraction
Create Date: 2026-12-07 12:00:00

Each row's nine columns become the fields of `harness.phase.PhaseConfig` once: `dataset`
(`kind` or `kind:/path`) becomes `{"kind", "path"}`, `split_spec` becomes `split`, the
phase-level `hidden`, `run_batch_size`, `original_seed` and `originals` leave `recipe` for
the top level, and a recipe naming a `preset` keeps it (the phase model reads a preset and
its changes). What a row never said stays absent, so it keeps the default it had; the next
write through `Phase.config` stores the whole model. Leaderboard seeds never enter the
experiment (they are in phase_secrets). The mapping is written out here, not imported: a
migration keeps the shapes of its own day. The downgrade writes the nine columns back.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013_phase_experiment"
down_revision: str | None = "0012_max_run_fraction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHASE_LEVEL = ("hidden", "run_batch_size", "original_seed", "originals")
LEADERBOARD_SEEDS = ("public_seed", "private_seed")
# The phase model's defaults on this day, for the downgrade's required columns.
DEFAULTS = {
    "model": "mlp",
    "replicas": 64,
    "estimator": "neurips2023",
    "max_run_fraction": 0.2,
    "interface": "tuple",
}
# The nine columns by name and type, as 0012 left them.
COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "dataset": sa.String(length=100),
    "split_spec": sa.JSON(),
    "model": sa.String(length=100),
    "recipe": sa.JSON(),
    "replicas": sa.Integer(),
    "estimator": sa.String(length=50),
    "max_run_fraction": sa.Float(),
    "interface": sa.String(length=32),
    "racing": sa.JSON(),
}


phases = sa.table(
    "phases",
    sa.column("id", sa.Integer),
    sa.column("experiment", sa.JSON),
    *(sa.column(name, kind) for name, kind in COLUMNS.items()),
)


def experiment(row: Any) -> dict[str, Any]:
    """The PhaseConfig fields of one row's nine columns."""
    recipe = dict(row.recipe or {})
    extras = {name: recipe.pop(name) for name in PHASE_LEVEL if name in recipe}
    split = {k: v for k, v in (row.split_spec or {}).items() if k not in LEADERBOARD_SEEDS}
    kind, _, path = row.dataset.partition(":")
    return {
        "dataset": {"kind": kind, "path": path or None},
        "split": split,
        "model": row.model,
        "recipe": recipe,
        "replicas": row.replicas,
        "estimator": row.estimator,
        "max_run_fraction": row.max_run_fraction,
        "interface": row.interface,
        "racing": row.racing,
        **extras,
    }


def columns(raw: dict[str, Any]) -> dict[str, Any]:
    """The nine columns of one stored experiment (the inverse of `experiment`)."""
    dataset = raw.get("dataset") or {"kind": "mnist1d"}
    recipe = raw.get("recipe") or {}
    recipe = {**recipe, **{name: raw[name] for name in PHASE_LEVEL if name in raw}}
    path = dataset.get("path")
    return {
        "dataset": f"{dataset['kind']}:{path}" if path else dataset["kind"],
        "split_spec": dict(raw.get("split") or {}),
        "recipe": recipe,
        "racing": raw.get("racing"),
        **{name: raw.get(name, default) for name, default in DEFAULTS.items()},
    }


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.add_column(sa.Column("experiment", sa.JSON(), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(phases)).all():
        conn.execute(
            phases.update().where(phases.c.id == row.id).values(experiment=experiment(row))
        )
    with op.batch_alter_table("phases") as batch:
        batch.alter_column("experiment", existing_type=sa.JSON(), nullable=False)
        for name in COLUMNS:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        for name, kind in COLUMNS.items():
            batch.add_column(sa.Column(name, kind, nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(phases.c.id, phases.c.experiment)).all():
        raw = row.experiment if isinstance(row.experiment, dict) else {}
        conn.execute(phases.update().where(phases.c.id == row.id).values(**columns(raw)))
    with op.batch_alter_table("phases") as batch:
        for name, kind in COLUMNS.items():
            if name != "racing":  # null: racing off
                batch.alter_column(name, existing_type=kind, nullable=False)
        batch.alter_column("interface", server_default="tuple")
        batch.drop_column("experiment")
