"""The organizer's phase form: choices from the registries, the split and recipe as fields,
errors beside their fields in the labels' words, read-only fields as text; the preparation
button named by its state; the console's workers and submission columns."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from competition import lifecycle, preparation
from competition.models import Phase, utcnow
from harness import registry
from harness.data.base import LabelledData
from harness.models import ModelSpec, build_mlp
from harness.phase import RECIPES, DatasetConfig, TrainRecipe
from harness.phase_schema import public_phase
from harness.pipeline import dry_run
from harness.runs.sandbox.local import LocalRunner
from harness.scoring import estimators
from tests.api.factories import finish, phase_body
from tests.api.pages.test_pages import login
from tests.api.pages.test_phase_pages import upload

EXAMPLES = Path(__file__).resolve().parents[3] / "starting_kit" / "examples"


def form(**overrides: str) -> dict[str, str]:
    now = utcnow()
    fields = {
        "name": "spring",
        "description": "A *new* phase",
        "starts_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "dataset": "mnist1d",
        "model": "mlp",
        "interface": "tuple",
        "replicas": "8",
        "estimator": "neurips2023",
        "max_run_fraction": "0.2",
        "split_forget_fraction": "0.02",
        "recipe_preset": "cpu-default",
        "recipe_epochs": "3",
        "daily_quota": "3",
        "max_in_flight": "0",
        "show_logs": "on",
        "sanity_check_required": "on",
    }
    fields.update(overrides)
    return fields


def beside(page: str, field: str) -> str:
    """The error shown beside a field, which the field names in its aria-describedby."""
    found = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', page)
    assert found, f"no error beside {field}"
    control = re.search(rf'id="f-{field}"[^>]*aria-describedby="([^"]*)"', page)
    assert control and f"f-{field}-error" in control.group(1).split()
    return found.group(1)


def _blobs(config: DatasetConfig) -> LabelledData:
    """A small data set only this module knows: 3 Gaussian blobs in 6 dimensions."""
    rng = np.random.default_rng(0)
    y = np.arange(360) % 3
    x = (rng.normal(size=(360, 6)) + 2.0 * np.eye(3, 6)[y]).astype(np.float32)
    return LabelledData("blobs", x, y.astype(np.int64), num_classes=3)


def _narrow_mlp(spec: ModelSpec) -> torch.nn.Module:
    return build_mlp(dataclasses.replace(spec, hidden=(16,)))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A data set, a model, a recipe and an estimator registered the way a deployment
    registers its own (one assignment in each registry), removed again after the test."""
    names = {"dataset": "blobs", "model": "narrow-mlp", "recipe": "quick", "estimator": "audit"}
    monkeypatch.setitem(registry.DATASETS, "blobs", registry.DatasetEntry(_blobs))
    monkeypatch.setitem(registry.MODELS, "narrow-mlp", _narrow_mlp)
    monkeypatch.setitem(RECIPES, "quick", TrainRecipe(epochs=2, batch_size=32))
    # Threads, not the scorer's spawned processes, resample it: a fresh interpreter sees
    # only what registers at import, and this entry exists only inside this test.
    audit = dataclasses.replace(
        estimators.ESTIMATORS["pooled"], name="audit", threads_parallel=True
    )
    monkeypatch.setitem(estimators.ESTIMATORS, "audit", audit)
    yield names
    monkeypatch.undo()
    assert not {"blobs", "narrow-mlp"} & {*registry.DATASETS, *registry.MODELS}


def test_selects_offer_the_registries_entries_read_when_the_form_is_drawn(client, world, request):
    login(client, world.organizer.email)
    page = client.get("/admin/phases/new").text
    assert 'value="audit"' not in page  # control: not there before it is registered
    names = request.getfixturevalue("registered")
    page = client.get("/admin/phases/new").text
    for field in ("dataset", "model", "estimator"):
        select = re.search(rf'<select name="{field}".*?</select>', page, re.S)
        assert select and f'<option value="{names[field]}"' in select.group(0)
    preset = re.search(r'<select name="recipe_preset".*?</select>', page, re.S)
    assert preset and '<option value="quick"' in preset.group(0)
    for name in ("model", "interface", "recipe_preset", "split_forget_mode", "racing_rule"):
        assert f'<select name="{name}"' in page
    assert 'type="datetime-local"' in page and "in UTC" in page
    assert 'name="split_spec"' not in page and 'name="recipe"' not in page  # no JSON boxes
    made = client.post(
        "/admin/phases/new",
        data=form(name="own", dataset="blobs", model="narrow-mlp", estimator="audit",
                  recipe_preset="quick", recipe_epochs=""),
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303, made.text


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_entries_registered_at_run_time_make_a_phase_the_api_accepts_and_a_dry_run_scores(
    client, world, registered, tmp_path
):
    body = phase_body(
        name="own-entries",
        dataset=registered["dataset"],
        model=registered["model"],
        recipe={"preset": registered["recipe"]},
        estimator=registered["estimator"],
        split_spec={"forget_fraction": 0.05},
    )
    made = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert made.status_code == 201, made.text
    # The participant's path: the phase's public JSON, through the one phase model.
    shown = client.get(f"/api/v1/phases/{made.json()['id']}", headers=world.alice.headers)
    phase = public_phase(shown.json())
    assert (phase.dataset.kind, phase.model, phase.estimator) == ("blobs", "narrow-mlp", "audit")
    assert phase.recipe == TrainRecipe(epochs=2, batch_size=32)
    report, prepared, *_ = dry_run(
        EXAMPLES / "finetune.py", phase, runner=LocalRunner(), cache_dir=tmp_path, split="dev"
    )
    assert (prepared.spec.name, prepared.spec.input_shape, prepared.spec.num_classes) == (
        "narrow-mlp",
        (6,),
        3,
    )
    assert report.estimator == "audit" and 0.0 <= (report.forget_quality or 0.0) <= 1.0


def test_form_creates_the_same_phase_as_the_json_api(client, world, session):
    login(client, world.organizer.email)
    made = client.post("/admin/phases/new", data=form(), follow_redirects=False)
    assert made.status_code == 303, made.text
    body = phase_body(name="spring-api", description="A *new* phase", max_run_fraction=0.2)
    body.update(starts_at=form()["starts_at"] + "Z", ends_at=form()["ends_at"] + "Z")
    api = client.post("/api/v1/phases", json=body, headers=world.organizer.headers)
    assert api.status_code == 201, api.text

    def settings(phase: Phase) -> dict:
        row = {c: getattr(phase, c) for c in Phase.__table__.columns.keys()}  # noqa: SIM118
        row["experiment"] = phase.config.with_(split={**row["experiment"]["split"], "dev_seed": 0})
        for drop in ("id", "name", "hidden_seeds", "created_at", "updated_at"):
            row.pop(drop, None)
        return row

    by_form = session.query(Phase).filter_by(name="spring").one()
    by_api = session.get(Phase, api.json()["id"])
    assert settings(by_form) == settings(by_api)
    assert by_form.config.recipe == TrainRecipe(epochs=3) and by_form.config.racing is None


def test_invalid_post_shows_each_error_beside_its_field_in_its_labels_words(client, world):
    login(client, world.organizer.email)
    bad = client.post(
        "/admin/phases/new",
        data=form(replicas="1", recipe_lr="fast", split_forget_fraction="2"),
    )
    assert bad.status_code == 422
    assert "3 problems to fix" in bad.text
    assert beside(bad.text, "replicas") == "Runs N must be at least 2."
    assert beside(bad.text, "recipe_lr") == "Learning rate must be a number."
    assert beside(bad.text, "split_forget_fraction").startswith(
        "Forget fraction must lie strictly between 0 and 1"
    )
    assert 'value="spring"' in bad.text  # the form keeps what was typed
    dates = client.post(
        "/admin/phases/new", data=form(ends_at="2020-01-01T00:00", starts_at="2021-01-01T00:00")
    )
    assert "1 problem to fix" in dates.text
    assert beside(dates.text, "ends_at") == "Closes must be after Opens."
    # A post that bypasses the selects (a script's typo) is refused beside each field.
    typos = client.post("/admin/phases/new", data=form(dataset="mnist-1d", model="MLP"))
    assert "2 problems to fix" in typos.text
    assert beside(typos.text, "dataset").startswith("Dataset must be one of mnist1d, digits")
    assert beside(typos.text, "model").startswith("Model must be one of mlp, cnn")
    assert "dataset.kind" not in typos.text and "Input should" not in typos.text


def test_edit_round_trips_and_a_scored_experiment_shows_as_text(client, world, session, queue):
    login(client, world.organizer.email)
    edit = f"/admin/phases/{world.phase_id}/edit"
    page = client.get(edit).text
    assert '<select name="dataset"' in page and 'id="locked-note"' not in page
    inputs = r'<input type="(?:text|number|datetime-local)"[^>]*?value="([^"]*)"[^>]*?name="(\w+)"'
    fields = {name: value for value, name in re.findall(inputs, page)}
    fields.update(dataset="mnist1d", model="mlp", interface="tuple", estimator="neurips2023")
    fields.update(recipe_preset="cpu-default", sanity_check_required="on", description="New")
    before = len(queue.prepared)
    saved = client.post(edit, data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert len(queue.prepared) == before  # the same experiment: not prepared again
    finish(session, upload(client, world), public=0.5, private=0.4)
    page = client.get(edit).text
    assert 'id="locked-note"' in page and '<select name="dataset"' not in page
    assert re.search(r'<span class="value" id="f-dataset">mnist1d', page)
    assert 'name="description"' in page  # what can still change is a field


def test_preparation_button_is_named_for_what_it_does(client, world, session):
    login(client, world.organizer.email)
    phase_page = f"/phases/{world.phase_id}"

    def button() -> str | None:
        found = re.search(r'id="prepare-again"[^>]*>([^<]*)</button>', client.get(phase_page).text)
        return found.group(1) if found else None

    assert button() == "Prepare the reference models"  # nothing prepared yet
    assert preparation.claim(session, phase_id=world.phase_id, split="public", holder="w",
                             lease_s=60)  # fmt: skip
    assert button() is None  # while it runs there is nothing to press
    preparation.fail(session, phase_id=world.phase_id, split="public", holder="w", error="x")
    assert button() == "Prepare again"
    preparation.reset(session, world.phase_id)
    session.commit()
    for split in lifecycle.SPLITS:
        assert preparation.claim(session, phase_id=world.phase_id, split=split, holder="w",
                                 lease_s=60)  # fmt: skip
        preparation.finish(session, phase_id=world.phase_id, split=split, holder="w",
                           retrain_seconds=1.0)  # fmt: skip
    assert button() == "Train the reference models again"


def test_console_names_a_job_only_while_it_runs_and_shows_file_time_and_pick(
    client, world, session
):
    sub_id = upload(client, world)
    lifecycle.heartbeat(session, hostname="gpu-1", submission_id=sub_id)
    session.commit()
    login(client, world.organizer.email)
    assert f'<a href="/submissions/{sub_id}">submission {sub_id}</a>' in client.get("/admin").text
    finish(session, sub_id, public=0.5, private=0.4)
    page = client.get("/admin").text
    assert f"submission {sub_id}</a>" not in page and "<td>idle</td>" in page
    row = re.search(rf'<tr data-id="{sub_id}">.*?</tr>', page, re.S)
    assert row and "submission.py" in row.group(0) and "<time datetime=" in row.group(0)
    assert client.post(
        f"/api/v1/submissions/{sub_id}/final", headers=world.alice.headers
    ).status_code == 200  # fmt: skip
    assert f'id="final-{sub_id}">final<' in client.get("/admin").text
