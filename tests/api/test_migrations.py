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
from harness.phase_schema import flat_fields
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
            split_spec = flat_fields(phase.config)["split_spec"]
            assert split_spec["forget_fraction"] == 0.02
            assert set(split_spec) <= {"forget_fraction", "dev_seed"}
            submission = session.get(Submission, 1)
            assert submission is not None and submission.status.value == "finished"
            assert (submission.public_score, submission.private_score) == (0.61, 0.42)
            assert submission.created_at.isoformat() == "2026-11-30T12:00:00+00:00"
            alice = crud.authenticate(session, email="alice@example.org", password=PASSWORD)
            assert alice is not None and alice.team_id == 1
    finally:
        engine.dispose()


# Reports as the server stored them before 0011: flat, the gate's figures beside the score;
# the older one with the accuracies under their first names and no attacks.
FLAT_REPORT = {
    "estimator": "neurips2023",
    "forget_quality": 0.61,
    "final_score": 0.55,
    "forget_quality_ci": [0.59, 0.63],
    "final_score_ci": [0.53, 0.57],
    "noise_floor": 0.2,
    "epsilons": [0.5, 1.0],
    "points": [1.0, 0.5],
    "n_models": 8,
    "n_examples": 2,
    "unlearned_retain_acc": 0.9,
    "retrained_retain_acc": 0.95,
    "unlearned_test_acc": 0.8,
    "retrained_test_acc": 0.85,
    "retain_ratio": 0.9 / 0.95,
    "test_ratio": 0.8 / 0.85,
    "n_bootstrap": 100,
    "confidence": 0.95,
    "seed": 0,
    "run_seconds_median": 0.4,
    "retrain_seconds": 10.0,
    "run_fraction": 0.04,
    "max_run_fraction": 0.2,
    "eligible": True,
    "mia": {
        "lira": {"auc": 0.55, "tpr_at_fpr": {"0.01": 0.02}, "n_scores": 16},
        "population": {"accuracy": 0.6, "accuracy_std": 0.02, "models": 8, "n_per_class": 50,
                       "retrained": None},
    },
    "secondary": {"tow": {"label": "ToW", "value": 0.9, "interval": [0.8, 1.0], "reading": "r",
                          "floor": 0.95}},
    "racing": {"n": 4, "n_total": 8, "provisional": True, "reason": "out of the top k",
               "profile": [{"n": 2, "score": 0.5, "low": 0.3, "high": 0.7}]},
    "predicted": True,
    "score_at_n": {"n": 4, "final_score": 0.5, "final_score_ci": [0.4, 0.6]},
}  # fmt: skip
OLDEST_REPORT = {
    "estimator": "neurips2023",
    "forget_quality": 0.3,
    "final_score": 0.3,
    "final_score_ci": [0.2, 0.4],
    "retain_accuracy_unlearned": 0.9,
    "retain_accuracy_retrained": 0.9,
    "test_accuracy_unlearned": 0.8,
    "test_accuracy_retrained": 0.8,
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_shape_migration_rewrites_stored_reports_for_the_model(
    backend, empty_database_factory
):
    """0011 rewrites every stored report in the shape every reader validates against
    (`EvaluationReport`), keeping its figures; the downgrade writes the flat shape back."""
    import json

    from harness.report.schema import EvaluationReport

    url = empty_database_factory(backend)
    command.upgrade(db.alembic_config(url), "0010_phase_preparation")
    engine = db.make_engine(url)
    stamp = "2026-11-30 12:00:00.000000" + ("+00:00" if backend == "postgres" else "")
    params = {"t": stamp, "pw": password_hash(), "sha": "a" * 64, "yes": True, "no": False}
    rows = [
        (1, "public", FLAT_REPORT),
        (2, "private", OLDEST_REPORT),
        (3, "public", {}),  # no report: one is made from the row's columns
    ]
    try:
        with engine.begin() as conn:
            for statement in OLD_ROWS:
                if not statement.startswith("INSERT INTO results"):
                    conn.execute(sa.text(statement), params)
            for row_id, split, report in rows:
                conn.execute(
                    sa.text(
                        "INSERT INTO results (id, submission_id, split, attempt, estimator,"
                        " score, ci_low, ci_high, forget_quality, noise_floor, report, plot_keys,"
                        " created_at) VALUES (:id, 1, :split, :attempt, 'neurips2023', 0.42,"
                        " 0.4, 0.44, 0.41, 0.2, :report, '[]', :t)"
                    ),
                    {**params, "id": row_id, "split": split, "attempt": row_id,
                     "report": json.dumps(report)},
                )  # fmt: skip
        command.upgrade(db.alembic_config(url), "0011_report_shape")
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT id, report FROM results")).all())
        reports = {
            row_id: EvaluationReport.model_validate(
                json.loads(value) if isinstance(value, str) else value
            )
            for row_id, value in stored.items()
        }
        flat = reports[1]
        assert (flat.final_score, flat.final_score_ci, flat.forget_quality) == (
            0.55,
            (0.53, 0.57),
            0.61,
        )
        assert flat.accuracy is not None and flat.accuracy.retrained.retain == 0.95
        assert flat.accuracy.unlearned.forget is None  # never kept by the server
        gate = flat.efficiency
        assert gate is not None and (gate.fraction, gate.max_fraction, gate.passed) == (
            0.04,
            0.2,
            True,
        )
        assert flat.mia.lira is not None and flat.mia.lira.auc == 0.55
        assert flat.secondary["tow"].value == 0.9
        assert flat.secondary["tow"].model_extra == {"floor": 0.95}
        assert flat.racing is not None and flat.racing.provisional and flat.replicas == 8
        assert flat.predicted and flat.score_at_n is not None and flat.score_at_n.n == 4
        oldest = reports[2]
        assert oldest.accuracy is not None and oldest.accuracy.test_ratio == 1.0
        assert oldest.efficiency is None and oldest.eligible
        made = reports[3]
        assert (made.final_score, made.final_score_ci, made.forget_quality) == (
            0.42,
            (0.4, 0.44),
            0.41,
        )

        command.downgrade(db.alembic_config(url), "0010_phase_preparation")
        with engine.connect() as conn:
            back = dict(conn.execute(sa.text("SELECT id, report FROM results")).all())
        flat_again = json.loads(back[1]) if isinstance(back[1], str) else back[1]
        assert flat_again["run_fraction"] == 0.04 and flat_again["eligible"] is True
        assert flat_again["unlearned_retain_acc"] == 0.9
        assert flat_again["racing"] == FLAT_REPORT["racing"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_phase_experiment_migration_moves_the_columns_into_one_phase_config(
    backend, empty_database_factory
):
    """0013 moves a phase's nine experiment columns into `experiment` (a PhaseConfig: the
    phase-level fields out of `recipe`, the data set's path apart), keeps leaderboard seeds
    out of it, and the downgrade writes the same columns back."""
    import json

    from competition.models import Phase
    from harness.phase import PhaseConfig
    from harness.phase_schema import validate_phase

    url = empty_database_factory(backend)
    command.upgrade(db.alembic_config(url), "0012_max_run_fraction")
    engine = db.make_engine(url)
    stamp = "2026-11-30 12:00:00.000000" + ("+00:00" if backend == "postgres" else "")
    racing = {"top_k": 3, "first_round": 4, "error_rate": 0.05, "max_width": None, "rule": "both"}
    old = {
        "dataset": "folder:/srv/faces",
        "split_spec": {"forget_mode": "random", "forget_fraction": 0.02, "dev_seed": 77},
        "model": "mlp",
        "recipe": {"preset": "resnet-fast", "epochs": 1, "hidden": [16], "run_batch_size": 32},
        "replicas": 8,
        "estimator": "neurips2023",
        "max_run_fraction": 0.5,
        "interface": "kaggle2023",
        "racing": racing,
    }
    plain = {**old, "dataset": "mnist1d", "split_spec": {"dev_seed": 5}, "recipe": {},
             "racing": None, "interface": "tuple"}  # fmt: skip
    insert = sa.text(
        "INSERT INTO phases (id, name, description, dataset, split_spec, model, recipe,"
        " replicas, estimator, max_run_fraction, interface, racing, starts_at, ends_at,"
        " daily_quota, max_in_flight, show_logs, sanity_check_required, archived, created_at)"
        " VALUES (:id, :name, '', :dataset, :split_spec, :model, :recipe, :replicas,"
        " :estimator, :max_run_fraction, :interface, :racing, :t, :t, 3, 0, :yes, :yes, :no,"
        " :t)"
    )
    rows = {1: old, 2: plain}
    try:
        with engine.begin() as conn:
            for row_id, row in rows.items():
                values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()}
                values["racing"] = None if row["racing"] is None else values["racing"]
                params = {"t": stamp, "yes": True, "no": False, "id": row_id, "name": str(row_id)}
                conn.execute(insert, {**params, **values})
        command.upgrade(db.alembic_config(url), "0013_phase_experiment")

        with db.make_sessionmaker(engine)() as session:
            moved = session.get(Phase, 1)
            assert moved is not None
            assert moved.config == validate_phase(
                {
                    "dataset": {"kind": "folder", "path": "/srv/faces"},
                    "split": {"forget_fraction": 0.02, "dev_seed": 77},
                    "model": "mlp",
                    "hidden": [16],
                    "run_batch_size": 32,
                    "recipe": {"preset": "resnet-fast", "epochs": 1},
                    "replicas": 8,
                    "max_run_fraction": 0.5,
                    "interface": "kaggle2023",
                    "racing": racing,
                }
            )
            assert moved.config.recipe.lr == 1e-3 and moved.config.recipe.epochs == 1
            default = session.get(Phase, 2)
            assert default is not None
            assert default.config == PhaseConfig(
                replicas=8, max_run_fraction=0.5, split={"dev_seed": 5}
            )
        with engine.connect() as conn:
            names = {column["name"] for column in sa.inspect(conn).get_columns("phases")}
        assert "experiment" in names and not names & set(old)

        command.downgrade(db.alembic_config(url), "0012_max_run_fraction")
        with engine.connect() as conn:
            back = conn.execute(sa.text("SELECT * FROM phases ORDER BY id")).mappings().all()
        for stored, row in zip(back, rows.values(), strict=True):
            read = {k: json.loads(v) if isinstance(v, str) and k in (
                "split_spec", "recipe", "racing") else v for k, v in stored.items()}  # fmt: skip
            assert {k: read[k] for k in row} == row
    finally:
        engine.dispose()
