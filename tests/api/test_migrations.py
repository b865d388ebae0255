"""Migrations on both databases: from empty, head matches the models, down and up again; from
the previous head with data, the upgrade keeps every row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from competition import db
from competition.models import Base
from tests.api.conftest import BACKENDS
from tests.api.factories import PASSWORD, password_hash


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_from_empty_match_models_and_reverse(backend, empty_database_factory):
    url = empty_database_factory(backend)
    db.upgrade_to_head(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            assert set(Base.metadata.tables) <= set(sa.inspect(conn).get_table_names())
        db.downgrade_to_base(url)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
        db.upgrade_to_head(url)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_app_start_runs_migrations(backend, empty_database_factory, tmp_path):
    from api.main import create_app
    from competition.settings import Settings
    from tests.api.conftest import TestClient

    url = empty_database_factory(backend)
    settings = Settings(database_url=url, data_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/api/v1/phases").json()["count"] == 0
    app.state.engine.dispose()


PREVIOUS_HEAD = "0003"  # the head before 0004 (phases.max_in_flight); move on with each release

# One competition as a database at the previous head holds it, written with plain SQL (not the
# models, which describe the newest schema): a team, an organizer and a participant, a phase,
# a finished submission with its events and both results, a quota counter and a worker.
OLD_ROWS = [
    "INSERT INTO teams (id, name, join_code, created_at) VALUES (1, 'Team A', 'code-a', :t)",
    "INSERT INTO users (id, email, display_name, password_hash, role, team_id, is_active,"
    " created_at) VALUES (1, 'org@example.org', 'Org', :pw, 'organizer', NULL, :yes, :t),"
    " (2, 'alice@example.org', 'Alice', :pw, 'participant', 1, :yes, :t)",
    "INSERT INTO phases (id, name, description, dataset, split_spec, model, recipe, replicas,"
    " estimator, efficiency_gate, starts_at, ends_at, daily_quota, show_logs,"
    " sanity_check_required, created_at) VALUES (1, 'dev', 'old phase', 'mnist1d',"
    " '{\"forget_fraction\": 0.02}', 'mlp', '{\"epochs\": 3}', 8, 'neurips2023', 0.2, :t, :t,"
    " 3, :yes, :yes, :t)",
    "INSERT INTO submissions (id, phase_id, team_id, user_id, filename, kind, sha256,"
    " size_bytes, code_key, status, attempt, failure_message, quota_day, counts_against_quota,"
    " sanity_check_passed, disqualified, is_final, public_score, public_ci_low, public_ci_high,"
    " private_score, private_ci_low, private_ci_high, created_at, updated_at) VALUES (1, 1, 1,"
    " 2, 'mine.py', 'py', :sha, 120, 'submissions/1/submission.py', 'finished', 1, '',"
    " '2026-11-30', :yes, :yes, :no, :yes, 0.61, 0.59, 0.63, 0.42, 0.40, 0.44, :t, :t)",
    "INSERT INTO submission_events (id, submission_id, from_status, to_status, attempt, note,"
    " at) VALUES (1, 1, NULL, 'received', 1, '', :t), (2, 1, 'scoring', 'finished', 1, '', :t)",
    "INSERT INTO results (id, submission_id, split, attempt, estimator, score, ci_low, ci_high,"
    " forget_quality, noise_floor, report, plot_keys, created_at) VALUES"
    " (1, 1, 'public', 1, 'neurips2023', 0.61, 0.59, 0.63, 0.61, 0.2, '{}', '[]', :t),"
    " (2, 1, 'private', 1, 'neurips2023', 0.42, 0.40, 0.44, 0.42, 0.2, '{}', '[]', :t)",
    "INSERT INTO quota_counters (team_id, phase_id, day, used) VALUES (1, 1, '2026-11-30', 1)",
    "INSERT INTO workers (id, hostname, last_seen, current_submission_id, info) VALUES"
    " (1, 'worker-1', :t, NULL, '{}')",
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_from_previous_head_keeps_every_row(backend, empty_database_factory):
    from api import crud
    from competition.models import Phase, Submission
    from unlearn.backup import database_state

    url = empty_database_factory(backend)
    command.upgrade(db.alembic_config(url), PREVIOUS_HEAD)
    engine = db.make_engine(url)
    # SQLAlchemy's SQLite dialect stores datetimes as naive UTC text; PostgreSQL takes an offset.
    stamp = "2026-11-30 12:00:00.000000" + ("+00:00" if backend == "postgres" else "")
    params = {"t": stamp, "pw": password_hash(), "sha": "a" * 64, "yes": True, "no": False}
    try:
        with engine.begin() as conn:
            for statement in OLD_ROWS:
                conn.execute(sa.text(statement), params)
        revision, before = database_state(url)
        assert revision == PREVIOUS_HEAD and before["submissions"] == 1

        db.upgrade_to_head(url)

        head = ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()
        revision, after = database_state(url)
        assert revision == head != PREVIOUS_HEAD
        kept = {table: after[table] for table in before}  # new tables may start with rows
        assert kept == before, "rows lost or added by the upgrade"
        with db.make_sessionmaker(engine)() as session:
            phase = session.get(Phase, 1)
            assert phase is not None and phase.max_in_flight == 0  # the new column's default
            # 0005 publishes a development split beside what the organizer wrote
            assert phase.split_spec["forget_fraction"] == 0.02
            assert set(phase.split_spec) <= {"forget_fraction", "dev_seed"}
            submission = session.get(Submission, 1)
            assert submission is not None and submission.status.value == "finished"
            assert (submission.public_score, submission.private_score) == (0.61, 0.42)
            assert submission.created_at.isoformat() == "2026-11-30T12:00:00+00:00"
            alice = crud.authenticate(session, email="alice@example.org", password=PASSWORD)
            assert alice is not None and alice.team_id == 1
    finally:
        engine.dispose()
