"""Settings: environment prefix, settings file, embedded defaults, refused default secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from competition.settings import Settings


def test_settings_embedded_default_is_sqlite_under_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("UNLEARN_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'unlearn.sqlite'}"
    assert settings.resolved_artifacts_dir == tmp_path.resolve() / "artifacts"


def test_settings_refuse_default_secret_outside_development(monkeypatch):
    monkeypatch.setenv("UNLEARN_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="UNLEARN_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("UNLEARN_SECRET_KEY", "x" * 40)
    assert Settings().environment == "production"


def test_settings_file_is_read_and_environment_wins(monkeypatch, tmp_path: Path):
    file = tmp_path / "unlearn.toml"
    file.write_text('max_upload_bytes = 1234\nlogin_rate_limit = "1/hour"\n')
    monkeypatch.setenv("UNLEARN_SETTINGS_FILE", str(file))
    monkeypatch.setenv("UNLEARN_LOGIN_RATE_LIMIT", "7/minute")
    settings = Settings()
    assert (settings.max_upload_bytes, settings.login_rate_limit) == (1234, "7/minute")


def test_settings_file_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("UNLEARN_SETTINGS_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="is not a file"):
        Settings()


def test_pipeline_sandbox_settings_nest_under_unlearn_sandbox(monkeypatch):
    from competition.settings import PipelineSettings

    monkeypatch.setenv("UNLEARN_SANDBOX__RUNTIME", "runsc")
    monkeypatch.setenv("UNLEARN_SANDBOX__MEMORY", "2g")
    monkeypatch.setenv("UNLEARN_SANDBOX__IMAGE", "unlearn-sandbox:0123")
    sandbox = PipelineSettings().sandbox.settings_for(gpu="1")
    assert (sandbox.runtime, sandbox.memory, sandbox.image, sandbox.gpu) == (
        "runsc",
        "2g",
        "unlearn-sandbox:0123",
        "1",
    )
    assert sandbox.pids_limit == 256  # unset knobs keep the core's safe defaults


def test_pipeline_sandbox_kind_alone_and_bad_knobs(monkeypatch):
    from competition.settings import PipelineSettings

    monkeypatch.setenv("UNLEARN_SANDBOX", "local")
    assert PipelineSettings().sandbox.kind == "local"
    monkeypatch.delenv("UNLEARN_SANDBOX")
    monkeypatch.setenv("UNLEARN_SANDBOX__CPUS", "0")
    with pytest.raises(ValidationError, match="sandbox.cpus"):
        PipelineSettings()
    monkeypatch.delenv("UNLEARN_SANDBOX__CPUS")
    monkeypatch.setenv("UNLEARN_SANDBOX__RUNTIMEE", "runsc")
    with pytest.raises(ValidationError, match="runtimee"):
        PipelineSettings()


def test_pipeline_sandbox_kind_and_nested_knobs_together(monkeypatch):
    from competition.settings import PipelineSettings

    monkeypatch.setenv("UNLEARN_SANDBOX", "docker")  # as docker-compose.yml sets both
    monkeypatch.setenv("UNLEARN_SANDBOX__IMAGE", "unlearn-sandbox:0123")
    monkeypatch.setenv("UNLEARN_SANDBOX__RUNTIME", "runsc")
    sandbox = PipelineSettings().sandbox
    assert (sandbox.kind, sandbox.image, sandbox.runtime) == (
        "docker",
        "unlearn-sandbox:0123",
        "runsc",
    )
