"""One docker-compose deployment of the repository's `docker-compose.yml`, for the deploy tests.

`Deployment` builds the images offline (`scripts/build_images.sh`, cached by content hash),
then runs Debian's `docker-compose` (1.29) under a project name of its own, with the API
and Flower published on free loopback ports, a private sandbox work folder and its own
volumes, so that engineers sharing one Docker daemon never collide. `down()` removes
everything it made, volumes included; the fixture calls it in a finalizer.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from tests.worker.services import free_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
SERVICE_UID = 10001  # the app images' user (docker/api.Dockerfile, docker/worker.Dockerfile)


def unavailable() -> str | None:
    """Why the deploy tests cannot run here, or None."""
    if shutil.which("docker-compose") is None:
        return "docker-compose is not installed (scripts/setup.sh --services installs it)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker daemon answers"
    return None


class Deployment:
    """A compose project in `folder`; `timings` records how long each stage took."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.project = f"unlearn-test-{uuid.uuid4().hex[:10]}"
        self.api_port = free_port()
        self.flower_port = free_port()
        self.env_file = folder / "compose.env"
        self.work_dir = folder / "work"
        self.timings: dict[str, float] = {}
        self.metrics_token = secrets.token_hex(16)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def metrics_headers(self) -> dict[str, str]:
        """What a scraper sends: /metrics is closed in production without the token."""
        return {"Authorization": f"Bearer {self.metrics_token}"}

    def build(self) -> None:
        """Build (or find cached) images and write the project's variables."""
        started = time.monotonic()
        images = self.folder / "images.env"
        done = subprocess.run(
            ["scripts/build_images.sh"],
            cwd=REPO,
            env={**os.environ, "UNLEARN_ENV_FILE": str(images)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"build_images.sh failed:\n{done.stderr[-4000:]}"
        self.timings["build images"] = time.monotonic() - started
        # The worker creates sandbox job folders here; the host's dockerd bind-mounts them.
        self.work_dir.mkdir()
        os.chown(self.work_dir, SERVICE_UID, SERVICE_UID)
        datasets = self.folder / "datasets"
        datasets.mkdir()
        variables = {
            "UNLEARN_SECRET_KEY": secrets.token_urlsafe(48),
            # compose refuses to start without them (docker-compose.yml); hex is URL-safe.
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "REDIS_PASSWORD": secrets.token_hex(16),
            "UNLEARN_FLOWER_BASIC_AUTH": f"admin:{secrets.token_hex(8)}",
            "UNLEARN_METRICS_TOKEN": self.metrics_token,
            "UNLEARN_BIND": "127.0.0.1",
            "UNLEARN_PORT": str(self.api_port),
            "FLOWER_PORT": str(self.flower_port),
            "UNLEARN_HOST_WORK_DIR": str(self.work_dir),
            "UNLEARN_DATASETS_DIR": str(datasets),
            "UNLEARN_SHARD_SIZE": "2",
            # A killed worker's shard is taken over within ~30 s, not the default ~3 min.
            "UNLEARN_LEASE_S": "20",
            "UNLEARN_HEARTBEAT_S": "4",
            "UNLEARN_RECONCILE_EVERY_S": "5",
        }
        lines = images.read_text().splitlines() + [f"{k}={v}" for k, v in variables.items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    def compose(self, *args: str, timeout_s: float = 600, check: bool = True, **kwargs) -> str:  # type: ignore[no-untyped-def]
        command = ["docker-compose", "-p", self.project, "-f", str(COMPOSE_FILE)]
        command += ["--env-file", str(self.env_file), *args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False, **kwargs
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        return done.stdout

    def exec(self, service: str, *command: str, input: str | None = None) -> str:  # noqa: A002
        return self.compose("exec", "-T", service, *command, input=input)

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def up(self, stage: str = "up until healthy") -> None:
        started = time.monotonic()
        self.compose("up", "-d")
        self.wait_healthy()
        self.timings[stage] = time.monotonic() - started

    def wait_healthy(self, timeout_s: float = 240) -> None:
        """Until the API is ready and the worker answers a ping (its compose healthcheck)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._api_ready() and self.health("worker") == "healthy":
                return
            time.sleep(2)
        raise AssertionError(f"not healthy after {timeout_s:.0f} s:\n{self.logs()}")

    def health(self, service: str) -> str:
        container = self.container(service)
        if not container:
            return "absent"
        done = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Health.Status}}", container],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    def _api_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def logs(self, tail: int = 60) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", check=False, timeout_s=60)

    def sandboxes(self) -> list[str]:
        """Running sandbox containers started by this project's workers."""
        return self._sandboxes(all_states=False)

    def down(self) -> None:
        self.remove_sandboxes()
        self.compose("down", "-v", "--remove-orphans", "-t", "5", check=False, timeout_s=300)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def remove_sandboxes(self) -> list[str]:
        """Remove sandbox containers this project's workers started (a killed worker leaves
        its shard's container behind)."""
        mine = self._sandboxes(all_states=True)
        if mine:
            subprocess.run(["docker", "rm", "-f", *mine], capture_output=True, check=False)
        return mine

    def _sandboxes(self, *, all_states: bool) -> list[str]:
        # Their `unlearn.owner` label is `<hostname>:<pid>`; a compose container's hostname
        # is its short id.
        workers = {c[:12] for c in self.compose("ps", "-q", check=False).split()}
        listed = subprocess.run(
            [
                "docker",
                "ps",
                *(["-a"] if all_states else []),
                "--filter",
                "label=unlearn.sandbox",
                "--format",
                '{{.ID}} {{.Label "unlearn.owner"}}',
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
        return [
            line.split()[0]
            for line in listed
            if line.strip() and line.split()[-1].partition(":")[0] in workers
        ]
