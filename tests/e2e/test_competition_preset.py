"""The 2023 competition's setting end to end: phases made from presets over HTTP, prepared by
a Celery worker, submissions run in the Docker sandbox and scored.

An organizer creates two phases through the API from the `competition` and
`competition-fast` presets (torchvision's ResNet-18, the 2023 recipe or the fast ResNet one,
forget sets of whole subjects, the Kaggle template's dict batches) on a generated set of
32x32 RGB images with subject ids, cutting only what a test must: one epoch, N = 4. The
workers prepare both (originals, references), then a participant's upload to each runs in
the sandbox and reaches the leaderboard. Small on purpose: a few hundred images, both phases
in one cluster so that its start-up is paid once.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from api import crud
from competition.models import Role, utcnow
from harness.presets import PHASE_PRESETS
from tests.e2e.test_pipeline import _participant, _status, _wait_api
from tests.worker.cluster import cluster
from tests.worker.services import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.docker, pytest.mark.slow]

# 64 subjects: forgetting 15 of them keeps the private forget set secret enough for a server
# (harness.data.splits.MIN_PRIVATE_BITS needs 54 in train); 3 images each keep training short
# (with 2, a retain set of 64k + 1 images leaves a last batch of 1, which BatchNorm refuses).
SUBJECTS, IMAGES_PER_SUBJECT, AGE_GROUPS = 64, 3, 10

# One step of fine-tuning on the retain set, reading the 2023 template's dict batches.
SUBMISSION = b"""import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    net.train()
    batch = next(iter(retain_loader))
    loss = torch.nn.functional.cross_entropy(net(batch["image"]), batch["age_group"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    net.eval()
"""


def write_faces(root: Path) -> Path:
    """A `folder` data set shaped like the 2023 one: uint8 RGB 32x32 images (channels last),
    an age group per subject, several images per subject; the colour follows the age group."""
    rng = np.random.default_rng(0)
    ages = rng.integers(0, AGE_GROUPS, SUBJECTS)
    groups = np.repeat(np.arange(SUBJECTS), IMAGES_PER_SUBJECT)
    y = ages[groups]
    tint = (y[:, None, None, None] * 25).astype(np.int16)
    noise = rng.integers(0, 64, (len(y), 32, 32, 3))
    x = np.clip(tint + noise, 0, 255).astype(np.uint8)
    root.mkdir()
    np.savez(root / "data.npz", x=x, y=y.astype(np.int64), groups=groups.astype(np.int64))
    return root


def _organizer(client: httpx.Client, system) -> dict[str, str]:  # type: ignore[no-untyped-def]
    account = {"email": "o@example.org", "password": "organizer-pass"}
    with system.sessions() as session:
        crud.create_user(session, **account, display_name="O", role=Role.ORGANIZER)
    login = client.post("/api/v1/auth/login", json=account)
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _create_phase(client: httpx.Client, headers: dict[str, str], *, preset: str, data: Path) -> int:
    now = utcnow()
    body = {
        "name": preset,
        "preset": preset,
        "dataset": f"folder:{data}",
        # What a test cuts; the rest (model, recipe, forget subjects, interface) is the preset's.
        "replicas": 4,
        "recipe": {"epochs": 1},
        "max_run_fraction": 10,  # a one-epoch retraining is shorter than a container's start
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    created = client.post("/api/v1/phases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    phase = created.json()
    assert (phase["model"], phase["interface"]) == ("resnet18", "kaggle2023")
    assert phase["recipe"] == {"preset": PHASE_PRESETS[preset].recipe, "epochs": 1}
    assert phase["split_spec"]["forget_mode"] == "groups"
    return int(phase["id"])


def test_competition_presets_prepare_run_in_docker_and_score(tmp_path: Path) -> None:
    data = write_faces(tmp_path / "faces")
    overrides = {
        "evaluation_backend": "worker.harness_backend:HarnessBackend",
        "sandbox": "docker",
        "shard_size": "4",
        "lease_s": "60",
        "heartbeat_s": "5",
        "shard_time_limit_s": "900",  # above a seed's limit (gate x retraining) plus margin
    }
    with cluster(tmp_path / "cluster", **overrides) as system:
        system.api()
        system.worker("docker")
        system.beat()
        with httpx.Client(base_url=f"http://127.0.0.1:{system.api_port}", timeout=30) as client:
            _wait_api(client)
            organizer = _organizer(client, system)
            phases = [
                _create_phase(client, organizer, preset=name, data=data)
                for name in ("competition", "competition-fast")
            ]
            participant = _participant(client)
            submissions = []
            for phase_id in phases:  # queued at once: each waits for its phase's preparation
                upload = client.post(
                    f"/api/v1/phases/{phase_id}/submissions",
                    headers=participant,
                    files={"file": ("submission.py", SUBMISSION, "text/x-python")},
                )
                assert upload.status_code == 201, upload.text
                submissions.append(int(upload.json()["id"]))

            def done() -> bool:
                states = [_status(client, participant, i) for i in submissions]
                return all(state in ("finished", "failed") for state in states)

            try:
                wait_for(done, timeout_s=600, what="both evaluations")
            except TimeoutError:
                raise AssertionError(system.logs()) from None
            for phase_id, submission_id in zip(phases, submissions, strict=True):
                assert _status(client, participant, submission_id) == "finished", system.logs()
                ready = client.get(f"/api/v1/phases/{phase_id}/preparation").json()
                assert ready["state"] == "ready", ready
                board = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()
                [row] = board["rows"]
                assert row["submission_id"] == submission_id
                assert math.isfinite(row["score"]) and row["score"] >= 0
