"""Phases through HTTP: anyone reads, organizers create and change, teams read their quota."""

from __future__ import annotations

from competition import preparation
from harness.phase_schema import public_phase
from tests.api.factories import VALID_SOURCE, phase_body


def test_phases_are_listed_to_anonymous_visitors(client, world):
    body = client.get("/api/v1/phases").json()
    assert body["count"] == 1
    phase = body["data"][0]
    assert (phase["name"], phase["replicas"], phase["estimator"]) == ("dev", 8, "neurips2023")
    spec = client.get(f"/api/v1/phases/{world.phase_id}").json()["split_spec"]
    assert spec == {"forget_fraction": 0.02, "dev_seed": spec["dev_seed"]}  # dev seed published
    assert client.get("/api/v1/phases/99").status_code == 404


def test_create_phase_is_organizer_only(client, world):
    body = phase_body(name="final", replicas=64, max_run_fraction=0.2, show_logs=False)
    assert client.post("/api/v1/phases", json=body).status_code == 401
    assert client.post("/api/v1/phases", json=body, headers=world.alice.headers).status_code == 403
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201
    assert created.json()["show_logs"] is False
    again = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert again.status_code == 409


def test_create_phase_rejects_inverted_times(client, world):
    body = phase_body(name="bad", starts_at="2030-01-02T00:00:00Z", ends_at="2030-01-01T00:00:00Z")
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422
    assert "ends_at" in response.text


def test_create_phase_with_racing_keeps_its_settings_and_defaults_to_off(client, world):
    off = client.get(f"/api/v1/phases/{world.phase_id}").json()
    assert off["racing"] is None
    body = phase_body(name="raced", replicas=256, racing={"top_k": 3})
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201
    assert created.json()["racing"] == {
        "top_k": 3,
        "first_round": 32,
        "error_rate": 0.05,
        "max_width": None,
        "rule": "both",
    }
    fetched = client.get(f"/api/v1/phases/{created.json()['id']}").json()
    assert fetched["racing"]["top_k"] == 3
    predicted = phase_body(name="predicted", replicas=256, racing={"rule": "predicted"})
    created = client.post("/api/v1/phases", json=predicted, headers=world.organizer.headers)
    assert created.status_code == 201 and created.json()["racing"]["rule"] == "predicted"
    typo = phase_body(name="typo rule", replicas=256, racing={"rule": "predict"})
    refused = client.post("/api/v1/phases", json=typo, headers=world.organizer.headers)
    assert refused.status_code == 422 and "predicted" in refused.text


def test_create_phase_rejects_racing_that_could_never_stop(client, world):
    body = phase_body(name="short", replicas=32, racing={"first_round": 32})
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422
    assert "racing.first_round (32) must be below replicas (32)" in response.text
    unknown = phase_body(name="typo", replicas=64, racing={"topk": 3})
    assert (
        client.post("/api/v1/phases", json=unknown, headers=world.organizer.headers).status_code
        == 422
    )


def test_update_phase(client, world):
    url = f"/api/v1/phases/{world.phase_id}"
    assert (
        client.patch(url, json={"daily_quota": 1}, headers=world.carol.headers).status_code == 403
    )
    updated = client.patch(
        url, json={"daily_quota": 1, "show_logs": False}, headers=world.organizer.headers
    )
    assert (updated.json()["daily_quota"], updated.json()["show_logs"]) == (1, False)
    inverted = client.patch(
        url, json={"ends_at": "2000-01-01T00:00:00Z"}, headers=world.organizer.headers
    )
    assert inverted.status_code == 409


def test_quota_counts_team_submissions(client, world):
    url = f"/api/v1/phases/{world.phase_id}/quota"
    assert client.get(url, headers=world.alice.headers).json()["remaining"] == 3
    client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    quota = client.get(url, headers=world.bob.headers).json()
    assert (quota["used"], quota["remaining"], quota["limit"]) == (1, 2, 3)
    assert client.get(url, headers=world.carol.headers).json()["used"] == 0
    assert client.get(url).status_code == 401


def test_create_phase_refuses_bad_experiment_fields_naming_field_and_choices(client, world):
    bad = {
        "estimator": ("calibratd", "'calibrated'"),
        "model": ("resnet999", "'resnet18-small'"),
        "interface": ("kaggle", "'kaggle2023'"),
        "recipe": ({"preset": "competiton"}, "'competition'"),
        "dataset": ("imagenet", "'mnist1d'"),
    }
    for field, (value, choice) in bad.items():
        body = phase_body(name=f"bad-{field}", **{field: value})
        response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
        assert response.status_code == 422, (field, response.text)
        assert field in response.text and choice in response.text, response.text


def test_create_phase_refuses_replicas_below_the_estimators_minimum(client, world):
    body = phase_body(name="few", estimator="calibrated", replicas=4)
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422 and "at least 8" in response.text


def test_create_phase_refuses_a_private_split_too_easy_to_guess(client, world):
    # One of MNIST-1D's 10 classes: once the dev and public classes are known, the private
    # one is one of 8 (3 bits), which a team's failure categories give away.
    spec = {"forget_mode": "classes", "forget_count": 1}
    body = phase_body(name="guessable", split_spec=spec)
    response = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert response.status_code == 422, response.text
    assert "split_spec" in response.text and "3.0 bits of secrecy" in response.text
    assert "forget_mode 'random'" in response.text
    edit = client.patch(
        f"/api/v1/phases/{world.phase_id}",
        json={"split_spec": spec},
        headers=world.organizer.headers,
    )
    assert edit.status_code == 422 and "bits of secrecy" in edit.text, edit.text
    # Control: the same phase forgetting a random share of examples is created.
    spec = {"forget_mode": "random", "forget_fraction": 0.1}
    body = phase_body(name="secret", split_spec=spec)
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201, created.text


def test_a_phase_carries_its_interface(client, world):
    body = phase_body(name="kaggle", interface="kaggle2023")
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201, created.text
    read = client.get(f"/api/v1/phases/{created.json()['id']}").json()
    assert read["interface"] == "kaggle2023"
    assert client.get(f"/api/v1/phases/{world.phase_id}").json()["interface"] == "tuple"


def _fail_preparation(app, phase_id: int, reason: str) -> None:
    """What a worker records when the phase's data is missing (`worker.prepare_phase`)."""
    with app.state.sessionmaker() as session:
        assert preparation.claim(
            session, phase_id=phase_id, split="public", holder="w1", lease_s=60
        )
        preparation.fail(session, phase_id=phase_id, split="public", holder="w1", error=reason)


def test_a_new_phase_is_committed_pending_and_sent_to_prepare(client, world, queue):
    created = client.post(
        "/api/v1/phases", json=phase_body(name="fresh"), headers=world.organizer.headers
    )
    phase_id = created.json()["id"]
    assert queue.prepared == [phase_id] and queue.violations == []
    state = client.get(f"/api/v1/phases/{phase_id}/preparation").json()
    assert state["state"] == "pending"
    assert [(s["split"], s["state"]) for s in state["splits"]] == [
        ("public", "pending"),
        ("private", "pending"),
    ]


def test_a_phase_that_failed_to_prepare_shows_why_to_organizers_and_refuses_uploads(
    app, client, world, queue
):
    _fail_preparation(app, world.phase_id, "FileNotFoundError: no dataset at /srv/cifar10")
    url = f"/api/v1/phases/{world.phase_id}/preparation"
    assert client.get(url).json()["state"] == "failed"
    assert client.get(url).json()["error"] is None  # the reason may name the servers' paths
    seen = client.get(url, headers=world.organizer.headers).json()["error"]
    assert seen == "public: FileNotFoundError: no dataset at /srv/cifar10"

    refused = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "phase_unavailable"
    assert "Nothing was charged" in refused.json()["error"]["message"]
    quota = client.get(f"/api/v1/phases/{world.phase_id}/quota", headers=world.alice.headers)
    assert quota.json()["used"] == 0

    prepare = f"/api/v1/phases/{world.phase_id}/prepare"
    assert client.post(prepare, headers=world.alice.headers).status_code == 403
    again = client.post(prepare, headers=world.organizer.headers)
    assert again.status_code == 202 and again.json()["state"] == "pending"
    assert queue.prepared == [world.phase_id] and queue.violations == []


def test_editing_the_experiment_prepares_again_and_is_refused_once_submitted(client, world, queue):
    url = f"/api/v1/phases/{world.phase_id}"
    org = world.organizer.headers
    assert client.patch(url, json={"datset": "digits"}, headers=org).status_code == 422  # typo
    bad = client.patch(url, json={"model": "resnet999"}, headers=org)
    assert bad.status_code == 422 and "resnet18-small" in bad.text
    assert client.get(url).json()["model"] == "mlp"  # unchanged

    changed = client.patch(url, json={"dataset": "digits", "replicas": 16}, headers=org)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["dataset"], changed.json()["replicas"]) == ("digits", 16)
    assert changed.json()["split_spec"]["dev_seed"]  # the published seed is kept
    assert queue.prepared == [world.phase_id] and queue.violations == []
    quota_only = client.patch(url, json={"daily_quota": 4}, headers=org)
    assert quota_only.status_code == 200 and queue.prepared == [world.phase_id]  # no retrain

    uploaded = client.post(
        f"{url}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert uploaded.status_code == 201, uploaded.text
    refused = client.patch(url, json={"dataset": "mnist1d"}, headers=org)
    assert refused.status_code == 409 and "cannot change now" in refused.text
    assert client.get(url).json()["dataset"] == "digits"


def _preset_body(name: str, **overrides):
    body = phase_body(name=name, dataset="folder:/srv/faces")
    for field in ("split_spec", "model", "recipe", "replicas", "estimator"):
        body.pop(field)  # the preset fills them
    return {**body, **overrides}


def test_create_phase_from_the_competition_preset_fills_the_2023_setting(client, world):
    body = _preset_body("faces", preset="competition")
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201, created.text
    phase = created.json()
    assert "preset" not in phase  # it filled the fields; nothing else remembers it
    assert (phase["model"], phase["recipe"], phase["replicas"]) == (
        "resnet18",
        {"preset": "competition"},
        512,
    )
    assert (phase["estimator"], phase["interface"], phase["max_run_fraction"]) == (
        "neurips2023",
        "kaggle2023",
        0.2,
    )
    spec = phase["split_spec"]
    assert (spec["forget_mode"], spec["forget_count"]) == ("groups", 15)


def test_create_phase_from_a_preset_keeps_given_fields_key_by_key(client, world):
    body = _preset_body(
        "faces fast",
        preset="competition-fast",
        replicas=4,
        max_run_fraction=10,
        recipe={"epochs": 1},
        split_spec={"val_fraction": 0.2},
    )
    created = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert created.status_code == 201, created.text
    phase = created.json()
    assert phase["recipe"] == {"preset": "resnet-fast", "epochs": 1}
    assert (phase["replicas"], phase["max_run_fraction"]) == (4, 10)
    assert phase["split_spec"]["val_fraction"] == 0.2
    assert phase["split_spec"]["forget_mode"] == "groups"


def test_create_phase_refuses_an_unknown_preset_naming_the_choices(client, world):
    body = _preset_body("typo", preset="competiton")
    refused = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert refused.status_code == 422
    assert "competition, competition-fast" in refused.text


def test_a_phase_body_carries_its_whole_experiment_beside_the_flat_fields(client, world):
    body = client.get(f"/api/v1/phases/{world.phase_id}").json()
    experiment = body["experiment"]
    assert not {"public_seed", "private_seed"} & set(experiment["split"])  # server-only
    assert experiment["split"]["dev_seed"] == body["split_spec"]["dev_seed"]
    assert (experiment["recipe"]["epochs"], experiment["replicas"]) == (3, 8)
    assert experiment["dataset"] == {"kind": "mnist1d", "path": None}
    flat = {key: value for key, value in body.items() if key != "experiment"}
    assert public_phase(flat) == public_phase(body)  # a body saved from an older server
