"""Server configuration: one pydantic-settings `Settings`, read from the environment and a file.

Inputs: environment variables prefixed `UNLEARN_` (e.g. `UNLEARN_DATABASE_URL`), and an optional
TOML settings file named by `UNLEARN_SETTINGS_FILE` (keys are the field names below, without
prefix). Environment variables win over the file. Output: a validated `Settings` object that the
API, the CLI and the workers share. The embedded default needs no service: SQLite and an
artifact folder under `data_dir`.

Outside `environment="development"` the default secret key is refused, so a production server
never starts with a guessable key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET_KEY = "development-only-secret-change-me"
SETTINGS_FILE_ENV = "UNLEARN_SETTINGS_FILE"


class Settings(BaseSettings):
    """Every knob of the competition server. Units are in the field names."""

    model_config = SettingsConfigDict(env_prefix="UNLEARN_", extra="forbid")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("unlearn-data")
    database_url: str = ""  # empty: SQLite file `unlearn.sqlite` inside data_dir
    artifacts_dir: Path | None = None  # None: `artifacts/` inside data_dir
    secret_key: str = DEFAULT_SECRET_KEY
    run_migrations_on_start: bool = True

    allow_registration: bool = True
    session_ttl_hours: float = 24.0 * 7
    api_token_ttl_days: float = 90.0

    max_upload_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    max_unzipped_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_zip_members: int = Field(default=200, gt=0)
    max_compression_ratio: float = Field(default=100.0, gt=1.0)

    upload_rate_limit: str = "20/minute"  # per client address, `limits` notation
    login_rate_limit: str = "10/minute"
    rate_limit_enabled: bool = True

    leaderboard_cache_seconds: float = Field(default=1.0, ge=0.0)
    default_page_size: int = Field(default=50, gt=0)
    max_page_size: int = Field(default=500, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get(SETTINGS_FILE_ENV)
        if settings_file:
            if not Path(settings_file).is_file():
                raise ValueError(f"{SETTINGS_FILE_ENV}={settings_file!r} is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=settings_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "UNLEARN_SECRET_KEY is the development default; set a long random value "
                f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                f"when UNLEARN_ENVIRONMENT={self.environment}"
            )
        if len(self.secret_key) < 16:
            raise ValueError("UNLEARN_SECRET_KEY must be at least 16 characters long")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'unlearn.sqlite').resolve()}"

    @property
    def resolved_artifacts_dir(self) -> Path:
        return (self.artifacts_dir or self.data_dir / "artifacts").resolve()
