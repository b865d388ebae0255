"""Service configuration: the server's `Settings` and the pipeline's `PipelineSettings`.

Both are pydantic-settings read from the same sources, so the API, the workers and beat
share one configuration. `PipelineSettings` adds the broker, the artifact store and timing;
its timing fields are tied by one rule: the broker's visibility timeout must outlive the
longest shard, otherwise Redis redelivers a shard while it still runs.


Inputs: environment variables prefixed `UNLEARN_` (e.g. `UNLEARN_DATABASE_URL`), and an optional
TOML settings file named by `UNLEARN_SETTINGS_FILE` (keys are the field names below, without
prefix). Environment variables win over the file. Output: a validated `Settings` object that the
API, the CLI and the workers share. The embedded default needs no service: SQLite and an
artifact folder under `data_dir`.

Outside `environment="development"` the default secret key is refused, so a production server
never starts with a guessable key. The key signs the web forms' anti-CSRF tokens
(`api.pages.csrf`). In production a database or broker URL with a well-known password (or a
Redis URL with none) is refused too, and `/metrics` stays closed until a token is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

if TYPE_CHECKING:
    from harness.runs.sandbox.docker_client import SandboxSettings

DEFAULT_SECRET_KEY = "development-only-secret-change-me"
# Passwords that compose files and tutorials ship with; production refuses them in a URL.
DEFAULT_PASSWORDS = frozenset({"unlearn", "postgres", "password", "redis", "changeme", "secret"})
SETTINGS_FILE_ENV = "UNLEARN_SETTINGS_FILE"


class Settings(BaseSettings):
    """Every knob of the competition server. Units are in the field names."""

    model_config = SettingsConfigDict(
        env_prefix="UNLEARN_", env_nested_delimiter="__", extra="forbid"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("unlearn-data")
    database_url: str = ""  # empty: SQLite file `unlearn.sqlite` inside data_dir
    artifacts_dir: Path | None = None  # None: `artifacts/` inside data_dir
    artifacts_url: str = ""  # empty: file://<artifacts_dir>; s3://bucket/prefix in production
    secret_key: str = DEFAULT_SECRET_KEY
    # How participants reach this server (e.g. https://unlearn.example.org): the phase
    # page's dry-run command names it. Empty: the command shows a placeholder (the request's
    # Host header is never echoed). `unlearn serve` on loopback fills it in.
    public_url: str = ""
    run_migrations_on_start: bool = True

    allow_registration: bool = True
    session_ttl_hours: float = 24.0 * 7
    api_token_ttl_days: float = 90.0

    max_upload_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    # Any other request body (JSON); bodies are bounded as they stream in (api.body_limits).
    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    max_unzipped_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_zip_members: int = Field(default=200, gt=0)
    max_compression_ratio: float = Field(default=100.0, gt=1.0)

    upload_rate_limit: str = "20/minute"  # per client address, `limits` notation
    login_rate_limit: str = "10/minute"
    rate_limit_enabled: bool = True
    # Where rate-limit counters live: empty keeps them in the process (one server process);
    # a redis:// URL shares them between `serve --workers N` processes and hosts. Empty
    # with a redis:// `broker_url` uses the broker's Redis.
    rate_limit_storage_url: str = ""

    log_format: Literal["text", "json"] = "text"  # json: one object per line (competition.logs)
    # Set: `GET /metrics` answers only `Authorization: Bearer <metrics_token>` (Prometheus's
    # `authorization: {credentials: ...}`). Empty: closed in production (401), open in
    # development and test.
    metrics_token: str = ""

    # The project checkout the phases' starting-kit zips are built from (its starting_kit/
    # and source); None: the checkout this code runs from (api.pages.kit).
    source_dir: Path | None = None

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
        if self.environment == "production":
            _refuse_default_password("UNLEARN_DATABASE_URL", self.database_url)
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(
                f"UNLEARN_PUBLIC_URL={value!r} must be an absolute http(s) URL, "
                "e.g. https://unlearn.example.org"
            )
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'unlearn.sqlite').resolve()}"

    @property
    def resolved_artifacts_dir(self) -> Path:
        return (self.artifacts_dir or self.data_dir / "artifacts").resolve()

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or self.resolved_artifacts_dir.as_uri()


def _refuse_default_password(name: str, url: str) -> None:
    """ValueError when `url` carries a password that ships with compose files or tutorials."""
    try:
        password = urlsplit(url).password
    except ValueError:  # an unparsable URL fails later, where it is used, with its own error
        return
    if password is not None and password.lower() in DEFAULT_PASSWORDS:
        raise ValueError(
            f"{name} uses the well-known password {password!r}; in production set a long "
            "random one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )


class SandboxOptions(BaseModel):
    """What an operator sets of a worker's sandbox; unset fields keep the core's safe defaults.

    `kind` chooses the runner: `docker` (the sandbox) or `local` (in the worker's own process:
    trusted code only). The rest are fields of `harness.runs.sandbox.docker_client.
    SandboxSettings`: `image` (pin the content-hash tag that scripts/build_sandbox_image.sh
    prints where other builds share the daemon), `runtime` ("runsc" for gVisor), `memory`,
    `cpus`, `pids_limit`, `output_size` (the Docker-managed tmpfs of the output folder),
    `tmp_size`, `seccomp` (a profile path; None: the daemon's default).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["docker", "local"] = "docker"
    image: str | None = None
    runtime: str | None = None
    memory: str | None = None
    cpus: float | None = Field(default=None, gt=0)
    pids_limit: int | None = Field(default=None, gt=0)
    output_size: str | None = None
    tmp_size: str | None = None
    seccomp: str | None = None

    def settings_for(self, *, gpu: str | None = None) -> SandboxSettings:
        """The core's `SandboxSettings` with these overrides (and one GPU, if any)."""
        from harness.runs.sandbox.docker_client import SandboxSettings

        return SandboxSettings(gpu=gpu, **self.model_dump(exclude={"kind"}, exclude_none=True))


class PipelineSettings(Settings):
    """Everything a worker, beat or the API's Celery queue needs. Units are in the names."""

    broker_url: str = ""  # empty: sqla+sqlite:///<data_dir>/broker.sqlite (no Redis)
    result_backend: str = ""  # empty: db+sqlite:///<data_dir>/celery-results.sqlite

    # A submission's N runs are cut into shards of this many seeds; one shard = one container.
    shard_size: int = Field(default=8, gt=0)
    shard_time_limit_s: float = Field(default=3600.0, gt=0)  # hard backstop per shard task
    # Least time one seed may run in the sandbox; above it, the limit follows from the phase
    # (`harness.runs.execute.seed_time_limit`). A shard's container must end before the task's
    # soft limit, which the backend checks before it starts one.
    seed_time_floor_s: float = Field(default=60.0, gt=0)
    visibility_timeout_s: float = 0.0  # 0: 1.2 x shard_time_limit_s (> longest shard)

    lease_s: float = Field(default=120.0, gt=0)  # a holder that misses this is presumed dead
    heartbeat_s: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=3, gt=0)  # system retries before failing (quota refunded)
    reconcile_every_s: float = Field(default=60.0, gt=0)
    queued_grace_s: float = Field(default=300.0, ge=0)  # queued this long: re-send the message

    # Which code runs a shard: "module:attribute" of an `EvaluationBackend` factory.
    evaluation_backend: str = "worker.harness_backend:HarnessBackend"
    # How shards run: UNLEARN_SANDBOX=local|docker, and the confinement knobs as
    # UNLEARN_SANDBOX__RUNTIME=runsc, __MEMORY, __CPUS, __IMAGE, ... (docs/deploy.md).
    sandbox: Annotated[SandboxOptions, NoDecode] = Field(default_factory=lambda: SandboxOptions())
    device: str = "cpu"  # "cuda" sends shards to the gpu queue
    worker_gpu: str = ""  # set per worker process by `unlearn worker --gpu N`

    @field_validator("sandbox", mode="before")
    @classmethod
    def _sandbox_kind_alone(cls, value: Any) -> Any:
        # UNLEARN_SANDBOX=local keeps working beside the nested UNLEARN_SANDBOX__* variables,
        # which pydantic-settings would drop once the flat one is set: merge them here.
        if not isinstance(value, str):
            return value
        prefix = "UNLEARN_SANDBOX__"
        nested = {
            key[len(prefix) :].lower(): item
            for key, item in os.environ.items()
            if key.upper().startswith(prefix)
        }
        return {**nested, "kind": value}

    @model_validator(mode="after")
    def _check_timing(self) -> PipelineSettings:
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError(
                f"UNLEARN_HEARTBEAT_S={self.heartbeat_s} must be at most half of "
                f"UNLEARN_LEASE_S={self.lease_s}, so one late beat does not lose the lease"
            )
        if self.visibility_timeout_s and self.visibility_timeout_s <= self.shard_time_limit_s:
            raise ValueError(
                f"UNLEARN_VISIBILITY_TIMEOUT_S={self.visibility_timeout_s} must exceed "
                f"UNLEARN_SHARD_TIME_LIMIT_S={self.shard_time_limit_s}, or Redis re-delivers "
                "shards that are still running"
            )
        return self

    @model_validator(mode="after")
    def _refuse_open_broker_in_production(self) -> PipelineSettings:
        if self.environment == "production":
            for name, url in (
                ("UNLEARN_BROKER_URL", self.broker_url),
                ("UNLEARN_RESULT_BACKEND", self.result_backend),
                ("UNLEARN_RATE_LIMIT_STORAGE_URL", self.rate_limit_storage_url),
            ):
                _refuse_default_password(name, url)
                if url.startswith(("redis://", "rediss://")) and not urlsplit(url).password:
                    raise ValueError(
                        f"{name} names a Redis without a password; in production set one "
                        "(`requirepass`) and put it in the URL: redis://:PASSWORD@host:6379/0"
                    )
        return self

    @property
    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def resolved_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        return f"db+sqlite:///{(self.data_dir / 'celery-results.sqlite').resolve()}"

    @property
    def resolved_visibility_timeout_s(self) -> float:
        return self.visibility_timeout_s or 1.2 * self.shard_time_limit_s

    @property
    def shard_soft_time_limit_s(self) -> float:
        """Celery's soft limit of a shard task: leaves time to stop the container cleanly."""
        return self.shard_time_limit_s - min(30.0, 0.1 * self.shard_time_limit_s)

    @property
    def shard_queue(self) -> str:
        return "gpu" if self.device.startswith("cuda") else "cpu"
