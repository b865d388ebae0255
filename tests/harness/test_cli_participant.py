"""The participant CLI against a real server: uvicorn on a loopback port, a temporary SQLite.

The server is started the way a participant starts a local one (`unlearn serve`);
an organizer account and its phases are made through the API; the evaluation worker's part
(scoring a queued submission) is played by the same `api.crud` calls a worker makes.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tests.report_factory import scored_report
from unlearn import participant as cli_participant

pytest.importorskip("api.main", reason="the API server is not in this tree")

REPO = Path(__file__).resolve().parents[2]
FINETUNE = REPO / "starting_kit" / "baselines" / "finetune.py"
ORGANIZER = ("organizer@example.org", "organizer-password")
PARTICIPANT = ("ada@example.org", "participant-password")


@dataclass
class Server:
    url: str
    data_dir: Path
    open_phase: int
    closed_phase: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_organizer(data_dir: Path) -> None:
    from api import crud
    from competition import db
    from competition.models import Role

    url = f"sqlite:///{(data_dir / 'unlearn.sqlite').resolve()}"
    db.upgrade_to_head(url)
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session:
        crud.create_user(
            session,
            email=ORGANIZER[0],
            password=ORGANIZER[1],
            display_name="Organizer",
            role=Role.ORGANIZER,
        )
    engine.dispose()


def _phase(name: str, *, starts: datetime, ends: datetime, quota: int) -> dict:
    return {
        "name": name,
        "dataset": "mnist1d",
        "model": "mlp",
        "replicas": 8,
        "estimator": "calibrated",
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "daily_quota": quota,
        "sanity_check_required": False,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("server")
    _create_organizer(data_dir)
    port = _free_port()
    env = {
        **os.environ,
        "UNLEARN_DATA_DIR": str(data_dir),
        "UNLEARN_RATE_LIMIT_ENABLED": "false",
        "UNLEARN_LEADERBOARD_CACHE_SECONDS": "0",
    }
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unlearn.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/v1/phases", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the server did not start: "
                        + (data_dir / "server.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.3)
        with httpx.Client(base_url=url + "/api/v1", timeout=30) as client:
            token = client.post(
                "/auth/login", json={"email": ORGANIZER[0], "password": ORGANIZER[1]}
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            now = datetime.now(UTC)
            opened = client.post(
                "/phases",
                json=_phase(
                    "open", starts=now - timedelta(days=1), ends=now + timedelta(days=9), quota=1
                ),
                headers=auth,
            )
            closed = client.post(
                "/phases",
                json=_phase(
                    "over", starts=now - timedelta(days=9), ends=now - timedelta(days=1), quota=5
                ),
                headers=auth,
            )
            registered = client.post(
                "/auth/register",
                json={
                    "email": PARTICIPANT[0],
                    "password": PARTICIPANT[1],
                    "display_name": "Ada",
                    "team_name": "Lovelace",
                },
            )
            for response in (opened, closed, registered):
                assert response.status_code == 201, response.text
        yield Server(url, data_dir, opened.json()["id"], closed.json()["id"])
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def invoke(server: Server, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the participant commands as `unlearn` would, with a config file in tmp_path."""
    app = typer.Typer()
    for command in (
        cli_participant.login,
        cli_participant.submit,
        cli_participant.status,
        cli_participant.leaderboard,
    ):
        app.command()(command)
    runner = CliRunner()
    config = tmp_path / "unlearn.toml"

    def run(*args: str, **env: str):  # type: ignore[no-untyped-def]
        base = {"UNLEARN_URL": server.url, "UNLEARN_CONFIG": str(config), "UNLEARN_TOKEN": ""}
        return runner.invoke(app, [str(a) for a in args], env={**base, **env})

    run.config = config  # type: ignore[attr-defined]
    return run


def _token(server: Server, account: tuple[str, str]) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": account[0], "password": account[1]}
    )
    return str(response.json()["token"])


def _login(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("login", "--email", PARTICIPANT[0], "--password", PARTICIPANT[1])
    assert result.exit_code == 0, result.output


POPULATION = {"accuracy": 0.6123, "accuracy_std": 0.02, "models": 8, "n_per_class": 100}


def _score_first_queued(server: Server, final_score: float) -> int:
    """Do what an evaluation worker does once it has scored a submission on both splits."""
    from sqlalchemy import select

    from competition import db, lifecycle
    from competition.models import Submission, SubmissionStatus

    engine = db.make_engine(f"sqlite:///{(server.data_dir / 'unlearn.sqlite').resolve()}")
    with db.make_sessionmaker(engine)() as session:
        queued = session.scalar(
            select(Submission.id).where(Submission.status == SubmissionStatus.QUEUED)
        )
        assert queued is not None
        submission = lifecycle.start_sanity_check(
            session, submission_id=queued, worker="test-worker"
        )
        for split in ("public", "private"):
            lifecycle.record_result(
                session,
                submission_id=submission.id,
                attempt=submission.attempt,
                split=split,
                report=scored_report(
                    final_score,
                    half_width=0.05,
                    estimator="calibrated",
                    forget_quality=final_score + 0.1,
                    noise_floor=0.9,
                    accuracies=(0.97, 0.98, 0.61, 0.64),
                    run_seconds=0.12,
                    mia={
                        "lira": {"auc": 0.547, "tpr_at_fpr": {"0.01": 0.02}, "n_scores": 800},
                        "population": {
                            **POPULATION,
                            "retrained": {**POPULATION, "accuracy": 0.5031},
                        },
                    },
                ),
            )
        submission_id = submission.id
    engine.dispose()
    return submission_id


def test_login_saves_url_and_token_readable_by_owner_only(invoke) -> None:  # type: ignore[no-untyped-def]
    _login(invoke)
    text = invoke.config.read_text()
    assert "token = " in text and "url = " in text
    assert stat.S_IMODE(invoke.config.stat().st_mode) == 0o600


def test_login_with_wrong_password_is_refused_with_the_reason(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("login", "--email", PARTICIPANT[0], "--password", "wrong-password")
    assert result.exit_code == 1
    assert "invalid_credentials" in result.output and "wrong e-mail or password" in result.output
    assert not invoke.config.exists()


def test_submit_status_leaderboard_and_every_refusal(
    invoke, server: Server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _login(invoke)

    broken = tmp_path / "broken.py"
    broken.write_text("def forget(net):\n    pass\n")
    result = invoke("submit", broken, "--phase", server.open_phase)
    assert result.exit_code == 1
    assert "invalid_submission" in result.output and "unlearning" in result.output
    assert "unlearn dry-run" in result.output  # the hint

    result = invoke("submit", FINETUNE, "--phase", server.open_phase)
    assert result.exit_code == 0, result.output
    assert "submitted finetune.py as #" in result.output
    assert "0 of 1 left" in result.output

    result = invoke("submit", FINETUNE, "--phase", server.open_phase)
    assert result.exit_code == 1
    assert "quota_exceeded" in result.output and "00:00 UTC" in result.output

    result = invoke("submit", FINETUNE, "--phase", server.closed_phase)
    assert result.exit_code == 1
    assert "phase_closed" in result.output

    result = invoke("status")
    assert result.exit_code == 0, result.output
    assert "queued" in result.output and "finetune.py" in result.output

    submission_id = _score_first_queued(server, final_score=0.42)
    result = invoke("status", submission_id)
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    assert "0.4200 [0.3700, 0.4700]" in result.output
    assert "noise floor 0.9000" in result.output
    assert "test accuracy: 0.6100 (retrained 0.6400, ratio 0.953)" in result.output
    assert "efficiency: a run takes 0.12 s (median of 8), 12% of one retraining" in result.output
    assert "population attack accuracy 0.612 (retrained models 0.503" in result.output
    assert "per-example LiRA AUC 0.547" in result.output

    result = invoke("leaderboard", "--phase", server.open_phase)
    assert result.exit_code == 0, result.output
    assert "Lovelace" in result.output and "0.4200 [0.3700, 0.4700]" in result.output

    organizer = _token(server, ORGANIZER)
    httpx.post(
        f"{server.url}/api/v1/submissions/{submission_id}/disqualify",
        json={"reason": "uses the test labels"},
        headers={"Authorization": f"Bearer {organizer}"},
    ).raise_for_status()
    result = invoke("status")
    assert "DISQUALIFIED by the organizers: uses the test labels" in result.output

    result = invoke("status", 999_999)
    assert result.exit_code == 1 and "not_found" in result.output


def test_bad_token_and_unreachable_server_say_what_to_do(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("status", UNLEARN_TOKEN="not-a-real-token")
    assert result.exit_code == 1
    assert "not_authenticated" in result.output and "unlearn login" in result.output

    result = invoke("status", UNLEARN_TOKEN="x", UNLEARN_URL=f"http://127.0.0.1:{_free_port()}")
    assert result.exit_code == 2
    assert "cannot reach the server" in result.output


def test_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('url = "http://127.0.0.1:1"\ntoken = "from-file"\n')
    from_file = cli_participant.load_server_config({"UNLEARN_CONFIG": str(config)})
    assert (from_file.url, from_file.token) == ("http://127.0.0.1:1", "from-file")
    from_env = cli_participant.load_server_config(
        {"UNLEARN_CONFIG": str(config), "UNLEARN_URL": "http://h:2/", "UNLEARN_TOKEN": "t"}
    )
    assert (from_env.url, from_env.token, from_env.api_root) == (
        "http://h:2/",
        "t",
        "http://h:2/api/v1",
    )


def test_dry_run_of_the_servers_phase_takes_its_configuration(
    server: Server, tmp_path: Path
) -> None:
    from unlearn.cli import app

    env = {"UNLEARN_CONFIG": str(tmp_path / "config.toml"), "UNLEARN_TOKEN": ""}

    def dry_run(*args: object) -> typer.testing.Result:
        return CliRunner().invoke(
            app, ["dry-run", str(FINETUNE), "--server", server.url, *map(str, args)], env=env
        )

    # The server's phase uses the calibrated estimator (at least 8 models); the CLI's own
    # default (neurips2023) would accept 4, so this refusal shows the phase was fetched.
    result = dry_run("--phase", server.open_phase, "--replicas", 4, "--cache-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert "'calibrated' estimator needs at least 8" in " ".join(result.output.split())
    missing = dry_run("--phase", 9999)
    assert missing.exit_code == 1 and "not_found" in missing.output, missing.output
