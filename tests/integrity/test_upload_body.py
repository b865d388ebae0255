"""Hole 7: an upload's body is bounded while it streams, and read only after authentication.

The exploit, against a real server (uvicorn in a subprocess, real sockets): announce a huge
multipart body, without logging in, and see whether the server waits for it (before the
fix it read and spooled the whole body to disk, then checked the login); then, logged in,
stream a body with no length announced past the limit and see whether the server stops it
early. Controls: the same authenticated request with a small file is accepted (201), so the
refusals are not the server refusing everything.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.factories import VALID_SOURCE

MAX_UPLOAD = 64 * 1024  # the `settings` fixture's limit
BOUNDARY = "exploitboundary"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings, world) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """uvicorn serving `api.main:create_app` on the test database, in its own process."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "UNLEARN_ENVIRONMENT": "test",
        "UNLEARN_SECRET_KEY": settings.secret_key,
        "UNLEARN_DATABASE_URL": settings.database_url,
        "UNLEARN_DATA_DIR": str(settings.data_dir),
        "UNLEARN_RUN_MIGRATIONS_ON_START": "false",
        "UNLEARN_RATE_LIMIT_ENABLED": "false",
        "UNLEARN_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=15)


def _head(path: str, *, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket, timeout: float = 10.0) -> int:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _multipart_headers(extra: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **extra}


def _part_start() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="submission.py"\r\nContent-Type: text/x-python\r\n\r\n'
    ).encode()


@pytest.mark.parametrize("path", ["/api/v1/phases/{pid}/submissions", "/phases/{pid}/submit"])
def test_anonymous_upload_is_refused_before_its_body_is_read(server, world, path):
    host, port = server
    with socket.create_connection((host, port)) as sock:
        # 1 GB announced, not a byte of it sent: an answer proves none of it was awaited.
        headers = _multipart_headers({"Content-Length": str(10**9)})
        sock.sendall(_head(path.format(pid=world.phase_id), headers=headers))
        assert _status(sock) in (401, 303)


def test_announced_oversized_upload_is_refused_before_reading(server, world):
    host, port = server
    with socket.create_connection((host, port)) as sock:
        headers = _multipart_headers(
            {"Content-Length": str(10**9), "Authorization": f"Bearer {world.alice.token}"}
        )
        sock.sendall(_head(f"/api/v1/phases/{world.phase_id}/submissions", headers=headers))
        assert _status(sock) == 413


def test_streamed_oversized_upload_is_cut_off_at_the_limit(server, world):
    host, port = server
    headers = _multipart_headers(
        {"Transfer-Encoding": "chunked", "Authorization": f"Bearer {world.alice.token}"}
    )
    chunk = b"#" * (64 * 1024)
    sent = 0
    with socket.create_connection((host, port)) as sock:
        sock.sendall(_head(f"/api/v1/phases/{world.phase_id}/submissions", headers=headers))
        sock.sendall(b"%x\r\n%s\r\n" % (len(_part_start()), _part_start()))
        answered = False
        try:
            while sent < 64 * 1024 * 1024:  # 64 MiB on offer, 1000 times the limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                if select.select([sock], [], [], 0.01)[0]:
                    answered = True
                    break
        except (BrokenPipeError, ConnectionResetError):
            answered = True  # the server stopped reading and closed
        assert answered, f"the server read all {sent} bytes"
        assert sent < 8 * MAX_UPLOAD + 1024 * 1024, f"{sent} bytes read before the answer"
        try:
            assert _status(sock) == 413
        except (ConnectionResetError, IndexError):
            pass  # closed before the answer could be read; the byte count above is the proof


def test_oversized_json_body_is_refused(server, world):
    host, port = server
    response = httpx.post(
        f"http://{host}:{port}/api/v1/auth/login",
        content=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_authenticated_small_upload_is_accepted(server, world):
    # Control: the same route, logged in, with a file under the limit.
    host, port = server
    response = httpx.post(
        f"http://{host}:{port}/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    page = httpx.post(
        f"http://{host}:{port}/phases/{world.phase_id}/submit",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=world.bob.headers,
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/submissions/")
