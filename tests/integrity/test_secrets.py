"""Hole 1: the private forget set must not be computable by a participant.

The exploit: read the phase as anyone can (JSON, pages, exports), rebuild the splits with
the harness from the published `split_spec`, and compare the forget set with the one the
workers evaluate on. Controls: with the organizer's seeds the same computation does
reproduce the workers' forget set, and the organizer's route returns them.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from competition.models import Phase
from harness.data.loaders import load_dataset
from harness.data.splits import make_splits
from harness.phase import DatasetConfig, PhaseConfig, SplitConfig
from harness.phase_schema import flat_fields
from tests.api.factories import VALID_SOURCE, finish, phase_body
from worker.phases import phase_info


def _upload(client, member, phase_id: int) -> int:
    response = client.post(
        f"/api/v1/phases/{phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _hidden_seeds(session, phase_id: int) -> tuple[int, int]:
    phase = session.get(Phase, phase_id)
    assert phase.hidden_seeds is not None
    return phase.hidden_seeds.public_seed, phase.hidden_seeds.private_seed


def _participant_views(client, world, submission_id: int) -> dict[str, str]:
    """Everything a participant (or anyone) can fetch about the phase and its results."""
    pid, alice = world.phase_id, world.alice.headers
    urls = {
        "phases": ("/api/v1/phases", None),
        "phase": (f"/api/v1/phases/{pid}", None),
        "board": (f"/api/v1/phases/{pid}/leaderboard", None),
        "csv": (f"/api/v1/phases/{pid}/leaderboard/export?format=csv", None),
        "json": (f"/api/v1/phases/{pid}/leaderboard/export?format=json", None),
        "submission": (f"/api/v1/submissions/{submission_id}", alice),
        "results": (f"/api/v1/submissions/{submission_id}/results", alice),
        "events": (f"/api/v1/submissions/{submission_id}/events", alice),
        "index page": ("/", None),
        "board page": (f"/phases/{pid}/leaderboard", None),
        "submit page": (f"/phases/{pid}/submit", alice),
        "openapi": ("/openapi.json", None),
    }
    texts = {}
    for name, (url, headers) in urls.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (name, response.status_code)
        texts[name] = response.text
    return texts


def test_no_participant_facing_answer_holds_a_leaderboard_seed(client, world, session, caplog):
    caplog.set_level(logging.DEBUG)
    submission_id = _upload(client, world.alice, world.phase_id)
    finish(session, submission_id, public=0.5, private=0.4)
    public_seed, private_seed = _hidden_seeds(session, world.phase_id)
    texts = _participant_views(client, world, submission_id)
    for name, text in texts.items():
        for seed in (public_seed, private_seed):
            assert str(seed) not in text, f"{name} shows a leaderboard seed"
        assert "private_seed" not in text or name == "openapi", name
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert str(private_seed) not in logged and str(public_seed) not in logged
    # Control: the organizer's own route shows them, and only to organizers.
    url = f"/api/v1/phases/{world.phase_id}/secrets"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=world.alice.headers).status_code == 403
    shown = client.get(url, headers=world.organizer.headers).json()
    assert (shown["public_seed"], shown["private_seed"]) == (public_seed, private_seed)


def test_private_forget_set_cannot_be_rebuilt_from_the_published_phase(client, world, session):
    published = client.get(f"/api/v1/phases/{world.phase_id}").json()
    data = load_dataset(DatasetConfig(kind=published["dataset"]))
    evaluated = phase_info(session.get(Phase, world.phase_id)).config
    workers_forget = make_splits(data, evaluated.split, "private").forget
    # The exploit: the harness's own split code on what the phase publishes.
    guessed = SplitConfig(**published["split_spec"])
    for split in ("private", "public", "dev"):
        attempt = make_splits(data, guessed, split).forget
        assert not np.array_equal(attempt, workers_forget), f"{split} guess hit the private set"
    # Control: the organizer's seeds rebuild it exactly, so the comparison can fail.
    seeds = client.get(
        f"/api/v1/phases/{world.phase_id}/secrets", headers=world.organizer.headers
    ).json()
    with_seeds = SplitConfig(
        **published["split_spec"],
        public_seed=seeds["public_seed"],
        private_seed=seeds["private_seed"],
    )
    np.testing.assert_array_equal(make_splits(data, with_seeds, "private").forget, workers_forget)
    # Participants dry-run on the published development split, which is a real split.
    dev = make_splits(data, guessed, "dev")
    assert guessed.dev_seed == published["split_spec"]["dev_seed"] and len(dev.forget) > 0
    page = client.get(f"/phases/{world.phase_id}").text
    assert f"drawn with seed {guessed.dev_seed}" in page


@pytest.mark.parametrize("key", ["private_seed", "public_seed"])
def test_phase_with_an_organizer_chosen_leaderboard_seed_is_refused(client, world, key):
    body = phase_body(name="guessable", split_spec={"forget_fraction": 0.02, key: 2})
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422
    assert f"remove {key} from split_spec" in response.text
    # Control: the same phase without the seed is accepted, with seeds of its own.
    body["split_spec"] = {"forget_fraction": 0.02}
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201


def test_every_phase_gets_its_own_unguessable_seeds(session, world):
    # Phases made outside the API (scripts, factories) get server-made seeds as well.
    template = session.get(Phase, world.phase_id)
    made = [
        Phase(
            name=f"script-{i}",
            experiment=PhaseConfig(dataset={"kind": "mnist1d"}, model="mlp", replicas=4),
            starts_at=template.starts_at,
            ends_at=template.ends_at,
        )
        for i in range(3)
    ]
    session.add_all(made)
    session.commit()
    seeds = set()
    for phase in [template, *made]:
        assert phase.hidden_seeds is not None
        pair = (phase.hidden_seeds.public_seed, phase.hidden_seeds.private_seed)
        assert pair[0] != pair[1] and min(pair) > 1000  # never the defaults 1 and 2
        seeds.update(pair)
    assert len(seeds) == 8  # no two phases share a seed


def test_worker_refuses_a_phase_without_server_seeds(session, world):
    phase = session.get(Phase, world.phase_id)
    assert phase_info(phase).config.split.private_seed == phase.hidden_seeds.private_seed
    session.delete(phase.hidden_seeds)
    session.commit()
    session.refresh(phase)
    with pytest.raises(RuntimeError, match="no leaderboard seeds"):
        phase_info(phase)


def test_the_stored_experiment_never_holds_the_leaderboard_seeds(session, world):
    phase = session.get(Phase, world.phase_id)
    evaluated = phase_info(phase).config  # the worker's view: the real seeds filled in
    assert evaluated.split.private_seed == phase.hidden_seeds.private_seed  # control
    phase.config = evaluated  # written back whole, by mistake
    session.commit()
    session.expire_all()
    phase = session.get(Phase, world.phase_id)
    assert not {"public_seed", "private_seed"} & set(phase.experiment["split"])
    placeholders = SplitConfig()
    assert (phase.config.split.public_seed, phase.config.split.private_seed) == (
        placeholders.public_seed,
        placeholders.private_seed,
    )
    assert str(phase.hidden_seeds.private_seed) not in json.dumps(phase.experiment)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migration_takes_published_seeds_out_of_existing_phases(backend, empty_database_factory):
    import sqlalchemy as sa
    from alembic import command

    from competition import db

    url = empty_database_factory(backend)
    command.upgrade(db.alembic_config(url), "0004")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO phases (name, description, dataset, split_spec, model, recipe,"
                " replicas, estimator, efficiency_gate, starts_at, ends_at, daily_quota,"
                " max_in_flight, show_logs, sanity_check_required, created_at) VALUES"
                " ('old', '', 'mnist1d', :spec, 'mlp', '{}', 4, 'neurips2023', 0.2,"
                " :t, :t, 5, 0, false, true, :t)"
            ),
            {"spec": '{"forget_fraction": 0.02, "private_seed": 2}', "t": "2026-01-01"},
        )
    db.upgrade_to_head(url)
    with db.make_sessionmaker(engine)() as session:
        phase = session.scalars(sa.select(Phase)).one()
        assert "private_seed" not in phase.experiment["split"]  # never in the experiment
        assert set(flat_fields(phase.config)["split_spec"]) == {"forget_fraction", "dev_seed"}
        assert phase.hidden_seeds is not None and phase.hidden_seeds.private_seed != 2
    engine.dispose()
