"""Real services for the pipeline's fault tests: a private Redis, a fresh PostgreSQL database,
Celery worker and beat processes that a test can kill with SIGKILL.

Each test gets its own Redis on a free loopback port (so restarting it disturbs nobody) and
its own PostgreSQL database (created with the `unlearn` role of scripts/start_postgres.sh,
dropped afterwards). Worker processes start in their own session, so killing one kills the
Celery parent and its pool children together, as a lost machine would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "UNLEARN_TEST_POSTGRES_ADMIN_URL",
    "postgresql+psycopg://unlearn:unlearn@127.0.0.1:5432/postgres",
)


CELERY = ["celery", "-A", "worker.celery_app"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], object], *, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")


class RedisServer:
    """redis-server on 127.0.0.1:<port>, without persistence unless asked."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout_s=10, what="redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class PostgresDatabase:
    """A database created for one test and dropped after it."""

    def __init__(self) -> None:
        self.name = f"unlearn_pipeline_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    @property
    def url(self) -> str:
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def create(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class ManagedProcess:
    """`python -m <args>` in its own session, output appended to a log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.log.parent,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: the Celery parent and its pool children."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def child_env(settings: dict[str, str]) -> dict[str, str]:
    """The test's environment plus settings, with this tree and the fakes importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNLEARN_")}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths.insert(0, str(REPO))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(settings)
    return env


def worker(
    env: dict[str, str], *, name: str, log_dir: Path, queues: str = "control,cpu"
) -> ManagedProcess:
    args = [
        "worker",
        "-Q",
        queues,
        "-c",
        "1",
        "-n",
        f"{name}@%h",
        "--prefetch-multiplier",
        "1",
        "-O",
        "fair",
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
    ]
    return ManagedProcess(CELERY + args, env=env, log=log_dir / f"{name}.log").start()


def beat(env: dict[str, str], *, log_dir: Path) -> ManagedProcess:
    schedule = log_dir / "celerybeat-schedule"
    return ManagedProcess(
        CELERY + ["beat", "-l", "info", "-s", str(schedule)], env=env, log=log_dir / "beat.log"
    ).start()


def api_server(env: dict[str, str], *, port: int, log_dir: Path) -> ManagedProcess:
    """The deployment's ASGI app (`unlearn.server:create_app`) under uvicorn on loopback."""
    args = ["uvicorn", "--factory", "unlearn.server:create_app", "--host", "127.0.0.1"]
    return ManagedProcess(args + ["--port", str(port)], env=env, log=log_dir / "api.log").start()
