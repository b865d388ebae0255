"""End to end over HTTP: a participant uploads, a Celery worker evaluates, the leaderboard shows it.

Real Redis, real PostgreSQL, and the deployment's own processes (uvicorn running
`unlearn.server:create_app`, `celery worker`, `celery beat`) on loopback. The server is
restarted while the evaluation runs: the evaluation must not notice.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api import crud
from competition.models import Role, SubmissionStatus
from tests.worker.cluster import cluster
from tests.worker.pipeline_fakes import expected_score
from tests.worker.services import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SUBMISSION = b"def unlearning(net, retain_loader, forget_loader, val_loader):\n    pass\n"


def _participant(client: httpx.Client) -> dict[str, str]:
    account = {"email": "p@example.org", "password": "participant-pass", "display_name": "P"}
    client.post("/api/v1/auth/register", json={**account, "team_name": "team p"}).raise_for_status()
    login = client.post("/api/v1/auth/login", json={k: account[k] for k in ("email", "password")})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _status(client: httpx.Client, headers: dict[str, str], submission_id: int) -> str:
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=headers)
    return str(response.json()["status"]) if response.status_code == 200 else ""


def _wait_api(client: httpx.Client) -> None:
    def up() -> bool:
        try:
            return client.get("/api/v1/phases").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout_s=60, what="the API server")


def test_upload_over_http_is_evaluated_and_ranked_across_an_api_restart(tmp_path: Path) -> None:
    with cluster(tmp_path) as system:
        phase_id = system.phase(replicas=6)
        with system.sessions() as session:
            crud.create_user(
                session,
                email="o@example.org",
                password="organizer-pass",
                display_name="O",
                role=Role.ORGANIZER,
            )
        api = system.api()
        system.worker("e2e")
        system.beat()
        with httpx.Client(base_url=f"http://127.0.0.1:{system.api_port}", timeout=30) as client:
            _wait_api(client)
            headers = _participant(client)
            upload = client.post(
                f"/api/v1/phases/{phase_id}/submissions",
                headers=headers,
                files={"file": ("submission.py", SUBMISSION, "text/x-python")},
            )
            assert upload.status_code == 201, upload.text
            submission_id = int(upload.json()["id"])
            wait_for(
                lambda: _status(client, headers, submission_id) == "running",
                timeout_s=60,
                what="the evaluation to start",
            )
            api.stop()  # the server goes away mid-evaluation...
            assert system.submission(submission_id).status != SubmissionStatus.FINISHED
            system.api()  # ...and comes back on the same port
            _wait_api(client)
            wait_for(
                lambda: _status(client, headers, submission_id) == "finished",
                timeout_s=120,
                what="the evaluation to finish",
            )
            board = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()
        assert [row["submission_id"] for row in board["rows"]] == [submission_id]
        assert board["rows"][0]["score"] == pytest.approx(expected_score(6))
        # The team sees it finished at its public result; the private split runs after it.
        wait_for(
            lambda: system.results(submission_id) == 2,
            timeout_s=120,
            what="the private split's result",
        )


@pytest.mark.docker
def test_real_submission_in_docker_sandbox_scores_exactly_like_the_local_dry_run(
    tmp_path: Path,
) -> None:
    from competition.models import Phase
    from harness.pipeline import dry_run
    from harness.runs.sandbox.local import LocalRunner
    from tests.worker.test_harness_backend import SUBMISSION as FINETUNE
    from worker.phases import phase_info

    overrides = {
        "evaluation_backend": "worker.harness_backend:HarnessBackend",
        "sandbox": "docker",
        "shard_size": "4",
        "lease_s": "60",
        "heartbeat_s": "5",
        "shard_time_limit_s": "900",
    }
    with cluster(tmp_path, **overrides) as system:
        # A retraining long enough that an isolated run's fixed cost (fork, fresh import,
        # sweep) does not decide the efficiency gate: this test is about scores.
        phase_id = system.phase(
            replicas=8,
            dataset="mnist1d",
            recipe={"epochs": 4, "hidden": [64], "batch_size": 256},
            split_spec={"forget_fraction": 0.02},
        )
        with system.sessions() as session:
            config = phase_info(session.get(Phase, phase_id)).config
        system.api()
        system.worker("docker")
        system.beat()
        with httpx.Client(base_url=f"http://127.0.0.1:{system.api_port}", timeout=30) as client:
            _wait_api(client)
            headers = _participant(client)
            upload = client.post(
                f"/api/v1/phases/{phase_id}/submissions",
                headers=headers,
                files={"file": ("submission.py", FINETUNE.encode(), "text/x-python")},
            )
            assert upload.status_code == 201, upload.text
            submission_id = int(upload.json()["id"])
            try:
                wait_for(
                    lambda: _status(client, headers, submission_id) in ("finished", "failed"),
                    timeout_s=900,
                    what="the evaluation",
                )
            except TimeoutError:
                raise AssertionError(system.logs()) from None
            assert _status(client, headers, submission_id) == "finished", system.logs()
            board = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()
        code = tmp_path / "finetune.py"
        code.write_text(FINETUNE)
        report, *_ = dry_run(code, config, runner=LocalRunner(), cache_dir=tmp_path / "cache")
        assert board["rows"][0]["score"] == report.final_score
