"""`unlearn verify RECORD`: check an evaluation's record and recompute its score.

    unlearn verify record.zip                        hashes, runs and score (no signature)
    unlearn verify record.zip --key-file secret.txt  and the signature, with the server's key
    unlearn verify record.zip --key-from-env         the key from UNLEARN_SECRET_KEY
    unlearn verify record.zip --skip-intervals       no bootstrap: seconds at any N

RECORD is a dry-run's `record.zip` or a server's `GET /api/v1/submissions/{id}/record`.
The key is the server's secret key (`UNLEARN_SECRET_KEY`); the record's signing key is
derived from it (`harness.report.record.record_key`). Prints one verdict per check
(`harness.report.verify`) and exits 0 when none fails, 1 when one does, 2 when the record
or the key cannot be read. Registered on `unlearn.cli.app` as the command "verify".
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["verify"]

KEY_VARIABLE = "UNLEARN_SECRET_KEY"
STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def _key(key_file: Path | None, from_env: bool) -> bytes | None:
    from harness.report.record import record_key

    if key_file is not None and from_env:
        raise ValueError("give --key-file or --key-from-env, not both")
    if key_file is not None:
        try:
            secret = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read the key file {key_file}: {exc.strerror}") from None
        if not secret:
            raise ValueError(f"the key file {key_file} is empty")
        return record_key(secret)
    if from_env:
        secret = os.environ.get(KEY_VARIABLE, "")
        if not secret:
            raise ValueError(f"--key-from-env: {KEY_VARIABLE} is not set")
        return record_key(secret)
    return None


def verify(
    record: Annotated[Path, typer.Argument(help="a record.zip (dry-run or server)")],
    key_file: Annotated[
        Path | None, typer.Option(help="a file holding the server's secret key")
    ] = None,
    key_from_env: Annotated[
        bool, typer.Option(help=f"take the server's secret key from {KEY_VARIABLE}")
    ] = False,
    skip_intervals: Annotated[
        bool, typer.Option(help="recompute the score but not its bootstrap intervals (fast)")
    ] = False,
) -> None:
    """Check RECORD's signature and hashes, and recompute its score bit for bit."""
    from harness.report.verify import passed, verify_record  # torch: not at the CLI's start
    from harness.scoring.submission import bootstrap_processes

    console = Console()
    try:
        key = _key(key_file, key_from_env)
        data = record.read_bytes()
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot read {record}: {exc.strerror}")
        raise typer.Exit(2) from None
    start = time.perf_counter()
    checks = verify_record(
        data, key=key, processes=bootstrap_processes(), intervals=not skip_intervals
    )
    for check in checks:
        style = STYLE[check.verdict]
        console.print(f"[{style}]{check.verdict.upper():4}[/{style}] {check.name}: {check.detail}")
    seconds = time.perf_counter() - start
    if checks[0].verdict == "fail":
        raise typer.Exit(2)
    if not passed(checks):
        console.print(f"[bold red]record FAILS verification[/bold red] ({seconds:.2f} s)")
        raise typer.Exit(1)
    console.print(f"[green]record verified[/green] ({seconds:.2f} s)")
