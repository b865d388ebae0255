"""The compose deployment as an organizer runs it: from the offline image build to a score.

Builds the images (`scripts/build_images.sh`), starts `docker-compose.yml` under its own
project name, waits for the healthchecks, creates an organizer and a phase with the CLI in
the API container, trains the phase in the worker container (`unlearn prepare-phase`),
registers a participant, submits `starting_kit/examples/finetune.py` with
`unlearn submit --wait`, and checks the leaderboard page and API show the score that
`unlearn dry-run` of the same file and phase computes. Then faults on the same deployment
(a second submission through Redis and PostgreSQL restarts and a worker killed mid-shard),
and `down` then `up` keeping every volume. The phase is tiny (MNIST-1D, 4 runs
per side, 2 % forget) so that the whole module takes a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.compose import REPO, Deployment, unavailable

pytestmark = [pytest.mark.deploy, pytest.mark.docker, pytest.mark.slow]

FINETUNE = REPO / "starting_kit" / "examples" / "finetune.py"
ORGANIZER = {"email": "organizer@example.org", "password": "organizer-pass"}
PARTICIPANT = {
    "email": "participant@example.org",
    "password": "participant-pass",
    "display_name": "P",
    "team_name": "team compose",
}
# The phase, and the same settings as `unlearn dry-run` options.
PHASE = {
    "name": "compose",
    "dataset": "mnist1d",
    "split_spec": {"forget_fraction": 0.02},
    "model": "mlp",
    "recipe": {"epochs": 1},
    "replicas": 4,
    "estimator": "neurips2023",
    "max_run_fraction": 10.0,  # scored whatever the shared CPUs' load
    "starts_at": "2020-01-01T00:00:00Z",
    "ends_at": "2099-01-01T00:00:00Z",
}


def _organizer_phase(system: Deployment, phase_id: int) -> dict:
    """The phase as `GET /api/v1/phases/{id}` shows it, with the public leaderboard split's
    seed from the organizer-only secrets route: what `unlearn dry-run --phase-file` needs to
    reproduce the server's public score."""
    with httpx.Client(base_url=system.url, timeout=30) as client:
        login = client.post("/api/v1/auth/login", json=ORGANIZER)
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        phase = client.get(f"/api/v1/phases/{phase_id}").json()
        secrets = client.get(f"/api/v1/phases/{phase_id}/secrets", headers=headers).json()
    assert "public_seed" not in phase["split_spec"]  # never in the public phase
    assert "public_seed" not in phase["experiment"]["split"]
    phase["experiment"]["split"]["public_seed"] = secrets["public_seed"]  # what dry-run reads
    return phase


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    system = Deployment(tmp_path_factory.mktemp("compose"))
    try:
        system.build()
        system.up()
        yield system
    finally:
        system.down()
        print(
            f"\ndeploy timings: {json.dumps({k: round(v, 1) for k, v in system.timings.items()})}"
        )


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`unlearn ARGS` on the host, as a participant runs it."""
    return subprocess.run(
        [sys.executable, "-m", "unlearn.cli", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _timed(system: Deployment, stage: str, started: float) -> None:
    system.timings[stage] = time.monotonic() - started


def test_finetune_submitted_through_compose_scores_as_the_dry_run(
    deployment: Deployment, tmp_path: Path
) -> None:
    system = deployment
    dry_run: subprocess.Popen[str] | None = None
    try:
        started = time.monotonic()
        created = system.exec(
            "api",
            "unlearn",
            "admin",
            "create-organizer",
            "--email",
            ORGANIZER["email"],
            "--display-name",
            "Organizer",
            "--password",
            ORGANIZER["password"],
        )
        assert "created" in created
        phase_out = system.exec(
            "api", "unlearn", "admin", "create-phase", "-", input=json.dumps(PHASE)
        )
        phase_id = int(phase_out.rsplit("(id ", 1)[1].split(")")[0])
        # The leaderboard split's seed is the server's secret: only an organizer can read it,
        # and with it reproduce the public score at home (a participant dry-runs the dev split).
        phase_file = tmp_path / "phase.json"
        phase_file.write_text(json.dumps(_organizer_phase(system, phase_id)))
        dry_out = tmp_path / "dry-run"
        # The dry run needs no services; it runs beside the deployment to save wall time.
        dry_run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unlearn.cli",
                "dry-run",
                str(FINETUNE),
                "--phase-file",
                str(phase_file),
                "--split",
                "public",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--out",
                str(dry_out),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _timed(system, "organizer and phase (CLI)", started)

        started = time.monotonic()
        # Sent to the workers when the phase was created; the CLI follows it to the end.
        prepared = system.exec("worker", "unlearn", "prepare-phase", str(phase_id))
        assert f"phase {phase_id} ready" in prepared, prepared
        _timed(system, "prepare-phase", started)

        started = time.monotonic()
        with httpx.Client(base_url=system.url, timeout=30) as client:
            client.post("/api/v1/auth/register", json=PARTICIPANT).raise_for_status()
        env = {"UNLEARN_CONFIG": str(tmp_path / "participant.toml")}
        login = _cli(
            "login",
            "--email",
            PARTICIPANT["email"],
            "--password",
            PARTICIPANT["password"],
            "--url",
            system.url,
            env=env,
        )
        assert login.returncode == 0, login.stderr
        submitted = _cli(
            "submit",
            str(FINETUNE),
            "--phase",
            str(phase_id),
            "--wait",
            "--poll-seconds",
            "2",
            env=env,
        )
        assert submitted.returncode == 0, f"{submitted.stdout}\n{submitted.stderr}\n{system.logs()}"
        assert "finished" in submitted.stdout, submitted.stdout
        _timed(system, "submit --wait (scored)", started)

        with httpx.Client(base_url=system.url, timeout=30) as client:
            board = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()
            page = client.get(f"/phases/{phase_id}/leaderboard")
        assert [row["team_name"] for row in board["rows"]] == [PARTICIPANT["team_name"]], board
        score = board["rows"][0]["score"]
        assert page.status_code == 200
        assert PARTICIPANT["team_name"] in page.text and f"{score:.4f}" in page.text

        # `submit --wait` ends at the public result (what the team sees); the private split
        # runs after it. The operator's figures below count the whole evaluation.
        _wait_finished(system, int(board["rows"][0]["submission_id"]))
        _check_operator_surface(system, int(board["rows"][0]["submission_id"]))

        started = time.monotonic()
        _, stderr = dry_run.communicate(timeout=900)
        assert dry_run.returncode == 0, stderr[-3000:]
        _timed(system, "dry-run (after the submission)", started)
        report = json.loads((dry_out / "report.json").read_text())
        assert score == report["final_score"]
    finally:
        if dry_run is not None and dry_run.poll() is None:
            dry_run.kill()


def _wait_finished(system: Deployment, submission_id: int) -> None:
    """Until the organizer sees the submission finished: both splits scored."""
    with httpx.Client(base_url=system.url, timeout=30) as client:
        login = client.post("/api/v1/auth/login", json=ORGANIZER)
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['token']}"}

        def finished() -> bool:
            row = client.get(f"/api/v1/submissions/{submission_id}", headers=headers).json()
            return row["status"] == "finished"

        _wait("finished private stage", finished, system, timeout_s=600, every_s=2)


def _check_operator_surface(system: Deployment, submission_id: int) -> None:
    """Metrics from the database and broker; JSON-lines state changes from API and worker."""
    with httpx.Client(base_url=system.url, timeout=30) as client:
        metrics = client.get("/metrics", headers=system.metrics_headers).text
    assert 'unlearn_submissions{status="finished"} 1.0' in metrics, metrics
    assert "unlearn_broker_up 1.0" in metrics, metrics
    assert 'unlearn_queue_depth{queue="cpu"}' in metrics, metrics
    assert "unlearn_evaluation_seconds_count 1.0" in metrics, metrics
    moves: dict[str, set[str]] = {}
    for service in ("api", "worker"):
        for line in system.compose("logs", "--no-color", service).splitlines():
            _, _, text = line.partition("| ")
            if '"submission.state"' not in text:
                continue
            event = json.loads(text)
            if event["submission_id"] == submission_id:
                moves.setdefault(service, set()).add(event["to_status"])
    assert "queued" in moves.get("api", set()), moves
    assert {"sanity_check", "running", "scoring", "finished"} <= moves.get("worker", set()), moves


def _wait(what: str, check, system: Deployment, timeout_s: float = 900, every_s: float = 1):  # type: ignore[no-untyped-def]
    """Poll `check()` until it returns something true; fail with the logs after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"no {what} after {timeout_s:.0f} s:\n{system.logs()}")


def test_faults_restarts_and_a_worker_killed_mid_shard_lose_nothing(
    deployment: Deployment,
) -> None:
    """A second submission of the same file: Redis and PostgreSQL restarted while it is queued,
    then the worker container killed while a shard runs and started again. It finishes once,
    with one result per split and the first submission's score (the same file and phase)."""
    system = deployment
    started = time.monotonic()
    with httpx.Client(base_url=system.url, timeout=30) as client:
        phases = client.get("/api/v1/phases").json()["data"]
        if not phases:
            pytest.skip("needs the scored submission of the first test")
        phase_id = phases[0]["id"]
        first = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()["rows"][0]
        login = client.post(
            "/api/v1/auth/login",
            json={"email": PARTICIPANT["email"], "password": PARTICIPANT["password"]},
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        upload = client.post(
            f"/api/v1/phases/{phase_id}/submissions",
            headers=headers,
            files={"file": ("finetune.py", FINETUNE.read_bytes())},
        )
        assert upload.status_code == 201, upload.text
        sub_id = upload.json()["id"]

    def status() -> str:
        try:
            with httpx.Client(base_url=system.url, timeout=10) as client:
                got = client.get(f"/api/v1/submissions/{sub_id}", headers=headers)
        except httpx.TransportError:
            return "unreachable"
        if got.status_code != 200:
            return f"HTTP {got.status_code}"
        state: str = got.json()["status"]
        assert state != "failed", f"{got.json()}\n{system.logs()}"
        return state

    queued_at_restart = status()
    system.compose("restart", "-t", "5", "redis", "postgres")
    system.wait_healthy()
    _timed(system, "faults: redis + postgres restarted", started)

    started = time.monotonic()
    _wait("running shard", lambda: status() == "running" and system.sandboxes(), system)
    worker = system.container("worker")
    subprocess.run(["docker", "kill", worker], check=True, capture_output=True)
    orphans = system.remove_sandboxes()  # the killed worker's shard container
    subprocess.run(["docker", "start", worker], check=True, capture_output=True)
    _wait("finished submission", lambda: status() == "finished", system, every_s=2)
    _wait_finished(system, int(sub_id))  # the team sees its public result; then the private
    _timed(system, "faults: worker killed mid-shard, until scored", started)

    with httpx.Client(base_url=system.url, timeout=30) as client:
        detail = client.get(f"/api/v1/submissions/{sub_id}", headers=headers).json()
        metrics = client.get("/metrics", headers=system.metrics_headers).text
    # Every result row, private ones included (participants see only the public split).
    rows = system.exec(
        "postgres", "psql", "-U", "unlearn", "-d", "unlearn", "-tAc",
        f"SELECT split, attempt FROM results WHERE submission_id = {int(sub_id)} ORDER BY split",
    ).split()  # fmt: skip
    assert queued_at_restart in ("queued", "sanity_check", "running"), queued_at_restart
    assert orphans, "the worker was killed while no shard container ran"
    assert rows == ["private|1", "public|1"], rows  # one per split, one attempt: exactly once
    assert detail["public_score"] == first["score"], (detail, first)
    assert 'unlearn_submissions{status="finished"} 2.0' in metrics, metrics


def test_down_then_up_keeps_accounts_phases_results_and_the_reference_cache(
    deployment: Deployment,
) -> None:
    system = deployment
    with httpx.Client(base_url=system.url, timeout=30) as client:
        phases = client.get("/api/v1/phases").json()["data"]
        if not phases:
            pytest.skip("needs the scored submission of the test above")
        phase_id = phases[0]["id"]
        board = client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()["rows"]
    cache = system.exec("worker", "find", "/srv/unlearn/artifacts/reference-cache", "-type", "f")

    system.compose("down", "-t", "5")  # keeps the named volumes
    system.up("down, then up until healthy")

    with httpx.Client(base_url=system.url, timeout=30) as client:
        login = client.post(
            "/api/v1/auth/login",
            json={"email": PARTICIPANT["email"], "password": PARTICIPANT["password"]},
        )
        assert login.status_code == 200, login.text
        assert client.get(f"/api/v1/phases/{phase_id}/leaderboard").json()["rows"] == board
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        mine = client.get(f"/api/v1/submissions/{board[0]['submission_id']}", headers=headers)
        assert mine.json()["status"] == "finished"
    after = system.exec("worker", "find", "/srv/unlearn/artifacts/reference-cache", "-type", "f")
    assert sorted(after.split()) == sorted(cache.split()) and cache.strip()
