"""Load the API on loopback: leaderboard reads and uploads with 10,000 submissions stored.

Claim checked: leaderboard p99 under 50 ms at 500 requests/s on PostgreSQL on this machine.

How to run (PostgreSQL must be up: `scripts/start_postgres.sh`):

    PYTHONPATH=. python bench/bench_api.py                       # PostgreSQL, defaults
    PYTHONPATH=. python bench/bench_api.py --backend sqlite      # embedded default
    PYTHONPATH=. python bench/bench_api.py --rate 100 500 --seconds 10 --json out.json

What it does: creates a fresh database, migrates it, inserts 10,000 scored submissions from
500 teams in one phase, starts `uvicorn` in a subprocess (the production app factory,
rate limits off so the load generator is not throttled), then
1. leaderboard reads, open loop at `--rate` requests/s over keep-alive connections; latency is
   measured from each request's *scheduled* send time, so a stalled server cannot hide its
   queueing delay (no coordinated omission);
2. the same with the leaderboard cache off (every request runs the window query);
3. uploads (multipart `.py`, validated, stored, committed, enqueued), closed loop with
   `--upload-concurrency` clients.
The load generator is a small raw-socket HTTP/1.1 client on asyncio so that it costs the
server as little of the 2 cores as possible. Prints a table and writes JSON.

Measured (2-core x86_64 CPU, no GPU, shared with other jobs): see docs/benchmarks.md "## API".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api import crud  # noqa: E402
from api.security import hash_password  # noqa: E402
from competition import db  # noqa: E402
from competition.models import Phase, Role, Submission, SubmissionStatus, Team, TokenKind, User  # noqa: E402
from harness.phase import PhaseConfig  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "UNLEARN_TEST_PG_URL", "postgresql+psycopg://unlearn:unlearn@127.0.0.1:5432/unlearn_test"
)
SOURCE = b"def unlearning(net, retain_loader, forget_loader, val_loader):\n    net.eval()\n"


# Database ------------------------------------------------------------------------------------


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}"
    name = f"unlearn_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, *, submissions: int, teams: int) -> tuple[int, str]:
    """Insert `submissions` finished submissions spread over `teams`; returns (phase, token)."""
    engine = db.make_engine(url)
    rng = random.Random(0)
    now = datetime.now(UTC)
    password = hash_password("bench-password")
    with db.make_sessionmaker(engine)() as session:
        phase = Phase(
            name="bench",
            experiment=PhaseConfig(dataset={"kind": "mnist1d"}, model="mlp", replicas=8),
            starts_at=now - timedelta(days=30),
            ends_at=now + timedelta(days=30),
            daily_quota=1_000_000,
        )
        session.add(phase)
        session.flush()
        team_rows = [{"name": f"team-{i}", "join_code": f"code-{i}"} for i in range(teams)]
        session.execute(sa.insert(Team), team_rows)
        team_ids = list(session.scalars(sa.select(Team.id).order_by(Team.id)))
        user_rows = [
            {
                "email": f"u{i}@bench.org",
                "display_name": f"u{i}",
                "password_hash": password,
                "role": Role.PARTICIPANT,
                "team_id": team_id,
                "is_active": True,
                "created_at": now,
            }
            for i, team_id in enumerate(team_ids)
        ]
        session.execute(sa.insert(User), user_rows)
        user_ids = list(session.scalars(sa.select(User.id).order_by(User.id)))
        rows = []
        for i in range(submissions):
            k = i % teams
            score = rng.random()
            rows.append(
                {
                    "phase_id": phase.id,
                    "team_id": team_ids[k],
                    "user_id": user_ids[k],
                    "filename": "submission.py",
                    "kind": "py",
                    "sha256": "0" * 64,
                    "size_bytes": 80,
                    "code_key": f"submissions/{i}/submission.py",
                    "status": SubmissionStatus.FINISHED,
                    "attempt": 1,
                    "failure_message": "",
                    "quota_day": date.today(),
                    "counts_against_quota": True,
                    "disqualified": False,
                    "is_final": False,
                    "public_score": score,
                    "public_ci_low": score - 0.03,
                    "public_ci_high": score + 0.03,
                    "private_score": rng.random(),
                    "private_ci_low": None,
                    "private_ci_high": None,
                    "created_at": now - timedelta(seconds=submissions - i),
                    "updated_at": now,
                }
            )
        for start in range(0, len(rows), 2000):
            session.execute(sa.insert(Submission), rows[start : start + 2000])
        session.commit()
        uploader = session.get(User, user_ids[0])
        assert uploader is not None
        token, _ = crud.create_token(
            session, user=uploader, kind=TokenKind.API, ttl=timedelta(days=1)
        )
        phase_id = phase.id
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # committed, or the statistics are rolled back
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return phase_id, token


# Server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    url: str, workdir: Path, *, workers: int, cache_seconds: float
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "UNLEARN_DATABASE_URL": url,
        "UNLEARN_DATA_DIR": str(workdir),
        "UNLEARN_RATE_LIMIT_ENABLED": "false",
        "UNLEARN_LEADERBOARD_CACHE_SECONDS": str(cache_seconds),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "unlearn.server:_app_without_migrations",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env=env,
        cwd=workdir,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): contention-independent cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Run a load and add the server's CPU milliseconds per request to its summary."""
    before = cpu_seconds(pid)
    result: dict[str, float] = run()
    result["server_cpu_ms_per_request"] = (cpu_seconds(pid) - before) * 1000 / result["requests"]
    return result


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# Load generator ------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; `request` returns (status, body length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()


def upload_request(path: str, token: str) -> bytes:
    boundary = "bench" + secrets.token_hex(8)
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="submission.py"\r\n'
            f"Content-Type: text/x-python\r\n\r\n"
        ).encode()
        + SOURCE
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def open_loop(
    port: int, raw: bytes, *, rate: float, seconds: float, connections: int
) -> dict[str, float]:
    """Send at a fixed schedule; latency counts from the scheduled time."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2

    async def one(scheduled: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status = await connection.request(raw)
            if status != 200:
                errors += 1
        finally:
            pool.put_nowait(connection)
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return summarize(latencies, elapsed, errors)


async def closed_loop(
    port: int, make_raw, *, requests: int, concurrency: int, ok: int
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))

    async def client() -> None:
        nonlocal errors
        connection = await Connection.open(port)
        for _ in remaining:
            sent = time.perf_counter()
            if await connection.request(make_raw()) != ok:
                errors += 1
            latencies.append(time.perf_counter() - sent)
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return summarize(latencies, time.perf_counter() - start, errors)


def summarize(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "requests": len(ordered),
        "errors": errors,
        "throughput_rps": len(ordered) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


# Main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[100.0, 250.0, 500.0],
        help="leaderboard requests/s, one run each (the uncached run uses the first)",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--upload-concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = fresh_database(args.backend, workdir)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "backend": args.backend,
        "submissions": args.submissions,
        "teams": args.teams,
        "workers": args.workers,
    }
    try:
        db.upgrade_to_head(url)
        t0 = time.perf_counter()
        phase_id, token = seed(url, submissions=args.submissions, teams=args.teams)
        seconds = time.perf_counter() - t0
        print(f"seeded {args.submissions} submissions / {args.teams} teams in {seconds:.1f} s")
        board = get_request(f"/api/v1/phases/{phase_id}/leaderboard")
        rows: list[tuple[str, str, dict[str, float]]] = []
        for cache in (1.0, 0.0):
            label = "leaderboard cached 1 s" if cache else "leaderboard uncached"
            server, port = start_server(url, workdir, workers=args.workers, cache_seconds=cache)
            try:
                asyncio.run(open_loop(port, board, rate=50, seconds=2, connections=4))  # warm-up
                for rate in args.rate if cache else args.rate[:1]:
                    summary = measured(
                        server.pid,
                        lambda port=port, rate=rate: asyncio.run(
                            open_loop(
                                port,
                                board,
                                rate=rate,
                                seconds=args.seconds,
                                connections=args.connections,
                            )
                        ),
                    )
                    rows.append((label, f"{rate:.0f}/s", summary))
                if cache:
                    upload_path = f"/api/v1/phases/{phase_id}/submissions"
                    summary = measured(
                        server.pid,
                        lambda port=port, path=upload_path: asyncio.run(
                            closed_loop(
                                port,
                                lambda: upload_request(path, token),
                                requests=args.uploads,
                                concurrency=args.upload_concurrency,
                                ok=201,
                            )
                        ),
                    )
                    rows.append(("uploads", f"{args.upload_concurrency} conc", summary))
            finally:
                stop_server(server)
    finally:
        drop_database(url)
    results["runs"] = [{"load": label, "offered": offered, **r} for label, offered, r in rows]
    load1, load5, _ = os.getloadavg()
    results["load_average_after"] = [load1, load5]

    print(
        f"\n{results['machine']}; {args.backend}; {args.submissions} submissions; "
        f"{args.workers} uvicorn worker(s); load average after run {load1:.1f}"
    )
    print(
        f"{'load':<24}{'offered':>10}{'achieved':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}{'srv CPU ms/req':>16}"
    )
    for label, offered_text, r in rows:
        print(
            f"{label:<24}{offered_text:>10}{r['throughput_rps']:>9.0f}/s{r['p50_ms']:>9.1f}"
            f"{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{r['errors']:>8.0f}"
            f"{r['server_cpu_ms_per_request']:>16.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
