"""Secure by default (review F10): a deployment that forgets a secret refuses to start.

Exploits: compose started with no database or Redis password (the old defaults were
`unlearn` and none), Flower without a login, a production server on a well-known database
password or a password-less Redis, an anonymous scrape of `/metrics` in production, and
`unlearn serve --host 0.0.0.0` serving the network with development settings. Each has a
control: the same start or request with the secret set (or on loopback) goes through.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from competition.settings import PipelineSettings, Settings

REPO = Path(__file__).resolve().parents[2]
KEY = "a-long-random-secret-key-for-tests"
SECRETS = {
    "UNLEARN_SECRET_KEY": KEY,
    "DOCKER_GID": "999",
    "POSTGRES_PASSWORD": "0f3c9a7e5b1d4c2a",
    "REDIS_PASSWORD": "9e8d7c6b5a4f3e2d",
    "UNLEARN_FLOWER_BASIC_AUTH": "admin:5c4b3a2f1e0d",
}


def _compose_config(tmp_path: Path, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh --services installs it)")
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    # Only PATH and HOME from here: a variable set in the caller's shell must not fill a gap.
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "--env-file", str(env_file)]
        + ["config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "missing", ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "UNLEARN_FLOWER_BASIC_AUTH"]
)
def test_compose_refuses_to_start_without_each_password(tmp_path, missing):
    done = _compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != missing})
    assert done.returncode != 0
    assert missing in done.stderr  # the message says what to set


def test_compose_with_the_passwords_puts_them_where_they_are_checked(tmp_path):
    # Control: every secret set, the file resolves; the URLs carry the passwords and Redis
    # starts with one (and protected mode left on).
    done = _compose_config(tmp_path, SECRETS)
    assert done.returncode == 0, done.stderr
    config = done.stdout
    assert f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0" in config
    assert f"unlearn:{SECRETS['POSTGRES_PASSWORD']}@postgres" in config
    assert "--requirepass" in config and "protected-mode" not in config
    assert f"FLOWER_BASIC_AUTH: {SECRETS['UNLEARN_FLOWER_BASIC_AUTH']}" in config


@pytest.mark.parametrize(
    ("variable", "weak", "strong"),
    [
        ("database_url", "postgresql+psycopg://unlearn:unlearn@db/unlearn", "postgresql+psycopg://unlearn:7d1e9c@db/unlearn"),
        ("broker_url", "redis://redis:6379/0", "redis://:7d1e9c@redis:6379/0"),
        ("broker_url", "redis://:redis@redis:6379/0", "redis://:7d1e9c@redis:6379/0"),
        ("result_backend", "redis://redis:6379/1", "redis://:7d1e9c@redis:6379/1"),
    ],
)  # fmt: skip
def test_production_settings_refuse_default_or_missing_passwords(variable, weak, strong):
    with pytest.raises(ValidationError, match="password"):
        PipelineSettings(environment="production", secret_key=KEY, **{variable: weak})
    # Control: development keeps the convenient defaults, and production takes a real one.
    PipelineSettings(environment="development", **{variable: weak})
    PipelineSettings(environment="production", secret_key=KEY, **{variable: strong})


def test_production_settings_refuse_the_default_secret_key():
    with pytest.raises(ValidationError, match="UNLEARN_SECRET_KEY"):
        Settings(environment="production")
    Settings(environment="production", secret_key=KEY)


@pytest.fixture
def production(app):  # type: ignore[no-untyped-def]
    settings = app.state.settings
    before = (settings.environment, settings.metrics_token)
    settings.environment = "production"
    yield settings
    settings.environment, settings.metrics_token = before


def test_metrics_are_closed_in_production_without_a_token(client, production):
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert "unlearn_" not in refused.text and "UNLEARN_METRICS_TOKEN" in refused.text
    # Control: with a token configured, the scraper that sends it reads the figures.
    production.metrics_token = "scrape-token-0123456789"
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert allowed.status_code == 200 and "unlearn_submissions" in allowed.text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "comp.example.org"])
def test_serve_outside_loopback_runs_with_production_settings(host):
    from unlearn.server import serving_environment

    environ = {"UNLEARN_ENVIRONMENT": "development"}
    assert "production settings" in serving_environment(host=host, environ=environ)
    assert environ["UNLEARN_ENVIRONMENT"] == "production"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_serve_on_loopback_keeps_the_chosen_environment(host):
    # Control: a laptop's server stays in development.
    from unlearn.server import serving_environment

    environ = {"UNLEARN_ENVIRONMENT": "development"}
    assert serving_environment(host=host, environ=environ) == ""
    assert environ == {"UNLEARN_ENVIRONMENT": "development"}


def test_serve_on_all_interfaces_refuses_the_development_secret(tmp_path):
    # The exploit: `unlearn serve --host 0.0.0.0` as docs/deploy.md once showed it, with no
    # secret set, served the network with development settings (cookies without Secure).
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNLEARN_")}
    env |= {"UNLEARN_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "unlearn.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "production settings" in done.stdout and "UNLEARN_SECRET_KEY" in done.stderr
