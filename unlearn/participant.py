"""The participant's side of `unlearn`: log in, submit, follow a submission, read a leaderboard.

    unlearn login --email you@example.org          (password prompted; saves url + token)
    unlearn submit my_method.py --phase 1 [--wait]
    unlearn status [SUBMISSION_ID] [--phase 1]
    unlearn leaderboard --phase 1 [--split public|private]

Where the server is and who you are: `UNLEARN_URL` (server root, e.g. http://127.0.0.1:8000)
and `UNLEARN_TOKEN` (an API token), or the TOML file named by `UNLEARN_CONFIG` (default
`$XDG_CONFIG_HOME/unlearn/config.toml`, i.e. `~/.config/unlearn/config.toml`) with keys `url`
and `token`; the environment wins over the file. Every refusal from the server (quota spent,
phase closed, file rejected, bad token) is printed as the server's own message plus what to
do next, and exits with status 1; an unreachable server exits with status 2.

These are plain typer-annotated functions: `unlearn/cli.py` registers them on the `unlearn`
app. They speak to the JSON API under `/api/v1` with httpx.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from harness.report.schema import EvaluationReport

if TYPE_CHECKING:  # httpx loads with the first request
    import httpx

__all__ = [
    "ServerConfig",
    "config_path",
    "leaderboard",
    "load_server_config",
    "login",
    "status",
    "submit",
]

API_PREFIX = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:8000"
TERMINAL = {"finished", "failed", "cancelled"}
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2

# What to do next, by the error code the server puts in its body.
HINTS = {
    "not_authenticated": "log in with `unlearn login --email ...` or set UNLEARN_TOKEN "
    "to a valid token",
    "invalid_credentials": "check the e-mail and password (accounts are made on the server's "
    "register page)",
    "quota_exceeded": "the quota resets at 00:00 UTC; dry-run locally meanwhile: "
    "`unlearn dry-run FILE`",
    "phase_closed": "list the phases and their dates on the server's home page",
    "invalid_submission": "fix the file and check it locally first: `unlearn dry-run FILE`",
    "payload_too_large": "submit only the code (a .py, or a .zip with submission.py), "
    "never weights or data",
    "rate_limited": "wait the number of seconds the server asks for, then retry",
    "not_found": "check the number; `unlearn status` lists your submissions",
}


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is (its root URL) and the bearer token, if any."""

    url: str
    token: str | None

    @property
    def api_root(self) -> str:
        root = self.url.rstrip("/")
        return root if root.endswith(API_PREFIX) else root + API_PREFIX


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The participant's config file: UNLEARN_CONFIG, else XDG config home, else ~/.config."""
    env = os.environ if env is None else env
    if env.get("UNLEARN_CONFIG"):
        return Path(env["UNLEARN_CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "unlearn" / "config.toml"


def load_server_config(env: Mapping[str, str] | None = None) -> ServerConfig:
    """URL and token from the environment, falling back to the config file, then defaults."""
    env = os.environ if env is None else env
    stored: dict[str, Any] = {}
    path = config_path(env)
    if path.is_file():
        try:
            stored = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            _fail(f"{path} is not valid TOML ({exc}); fix it or delete it and log in again")
    url = env.get("UNLEARN_URL") or str(stored.get("url") or DEFAULT_URL)
    token = env.get("UNLEARN_TOKEN") or stored.get("token") or None
    if not url.startswith(("http://", "https://")):
        _fail(f"the server URL {url!r} must start with http:// or https:// (UNLEARN_URL)")
    return ServerConfig(url=url, token=str(token) if token else None)


def _save_config(path: Path, config: ServerConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    import tomli_w

    text = tomli_w.dumps({"url": config.url, "token": config.token or ""})
    # The token is a credential: create the file readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _fail(message: str, *, code: int = EXIT_REFUSED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _request(config: ServerConfig, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; returns the decoded JSON body or exits with the server's reason."""
    import httpx  # here, not at the top: half a second of every `unlearn` command's start

    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    try:
        with httpx.Client(base_url=config.api_root, headers=headers, timeout=60.0) as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        _fail(
            f"cannot reach the server at {config.url} ({type(exc).__name__}: {exc}); "
            "is it running, and is UNLEARN_URL right?",
            code=EXIT_UNREACHABLE,
        )
    if response.is_success:
        return response.json()
    _explain_refusal(response)


def fetch_phase(phase_id: int, *, server: str | None = None) -> dict[str, Any]:
    """The public body of `GET /api/v1/phases/{phase_id}` (server: the saved one by default)."""
    config = load_server_config()
    if server is not None:
        config = ServerConfig(url=server, token=config.token)
    return _request(config, "GET", f"/phases/{int(phase_id)}")  # type: ignore[no-any-return]


def _explain_refusal(response: httpx.Response) -> NoReturn:
    """Print the server's message, its per-line details and a hint, then exit 1."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = str(error.get("code") or f"http_{response.status_code}")
    message = str(error.get("message") or response.text[:500] or response.reason_phrase)
    lines = [f"the server refused ({response.status_code} {code}): {message}"]
    for detail in error.get("details") or []:
        where = ":".join(
            str(detail[key]) for key in ("file", "line", "column") if detail.get(key) is not None
        )
        where = where or str(detail.get("field") or "")
        lines.append(f"  {where + ': ' if where else ''}{detail.get('message', '')}")
    if response.headers.get("Retry-After"):
        lines.append(f"  retry after {response.headers['Retry-After']} s")
    hint = HINTS.get(code)
    if hint:
        lines.append(f"hint: {hint}")
    _fail("\n".join(lines))


def _score_text(score: float | None, low: float | None, high: float | None) -> str:
    if score is None:
        return "-"
    if low is None or high is None:
        return f"{score:.4f}"
    return f"{score:.4f} [{low:.4f}, {high:.4f}]"


def _describe(submission: dict[str, Any]) -> str:
    line = (
        f"#{submission['id']}  phase {submission['phase_id']}  {submission['status']:<12} "
        f"{submission['filename']}  public score "
        f"{_score_text(submission.get('public_score'), submission.get('public_ci_low'), submission.get('public_ci_high'))}"  # noqa: E501
    )
    if submission.get("private_score") is not None:
        line += "  private " + _score_text(
            submission["private_score"],
            submission.get("private_ci_low"),
            submission.get("private_ci_high"),
        )
    if submission.get("disqualified"):
        reason = submission.get("disqualified_reason") or "no reason given"
        line += f"\n    DISQUALIFIED by the organizers: {reason} (on no leaderboard)"
    if submission["status"] == "failed":
        line += f"\n    failed ({submission.get('failure_category')}): "
        line += str(submission.get("failure_message") or "no message")
        if not submission.get("counts_against_quota", True):
            line += " (refunded)"
    return line


def login(
    email: Annotated[str, typer.Option(help="your account's e-mail")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="password")],
    url: Annotated[
        str | None, typer.Option(help="server root; default UNLEARN_URL or the saved one")
    ] = None,
) -> None:
    """Log in and save the server URL and an API token to the config file."""
    base = load_server_config()
    config = ServerConfig(url=url or base.url, token=None)
    body = _request(config, "POST", "/auth/login", json={"email": email, "password": password})
    path = config_path()
    _save_config(path, ServerConfig(url=config.url, token=body["token"]))
    typer.echo(f"logged in as {email}; token saved to {path} (expires {body['expires_at']})")


def submit(
    file: Annotated[Path, typer.Argument(help="a .py file defining unlearning(), or a .zip")],
    phase: Annotated[int, typer.Option(help="the phase to submit to (its number)")],
    wait: Annotated[bool, typer.Option(help="follow the submission until it is scored")] = False,
    poll_seconds: Annotated[float, typer.Option(help="seconds between checks with --wait")] = 5.0,
) -> None:
    """Upload a submission to a phase (spends one of today's quota)."""
    if not file.is_file():
        _fail(f"{file} is not a file; give the path of your .py (or .zip) submission")
    config = load_server_config()
    if not config.token:
        _fail("not logged in: " + HINTS["not_authenticated"])
    files = {"file": (file.name, file.read_bytes(), "application/octet-stream")}
    submission = _request(config, "POST", f"/phases/{phase}/submissions", files=files)
    typer.echo(f"submitted {file.name} as #{submission['id']} to phase {phase}")
    quota = _request(config, "GET", f"/phases/{phase}/quota")
    typer.echo(f"quota: {quota['remaining']} of {quota['limit']} left for {quota['day']} (UTC)")
    if wait:
        _follow(config, submission["id"], poll_seconds=poll_seconds)
    else:
        typer.echo(f"follow it with `unlearn status {submission['id']}`")


def _follow(config: ServerConfig, submission_id: int, *, poll_seconds: float) -> None:
    """Draw the evaluation's progress (the server's `/progress`: the web page's numbers)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description:<15}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs  {task.fields[left]}"),
    )
    last_stage = None
    with Progress(*columns, transient=False) as bars:
        tasks: dict[str, Any] = {}
        while True:
            progress = _request(config, "GET", f"/submissions/{submission_id}/progress")
            if progress["stage"] != last_stage:
                last_stage = progress["stage"]
                bars.console.print(f"  {progress['status']}: {last_stage}")
            left = progress.get("remaining_s")
            left_text = f"about {_duration(left)} left" if left is not None else ""
            for split in progress["splits"]:
                name = split["split"]
                if name not in tasks:
                    tasks[name] = bars.add_task(f"{name} split", total=split["runs_total"], left="")
                bars.update(tasks[name], completed=split["runs_done"], left=left_text)
            if progress["terminal"]:
                break
            time.sleep(poll_seconds)
    submission = _request(config, "GET", f"/submissions/{submission_id}")
    _show_one(config, submission)
    if submission["status"] != "finished":
        raise typer.Exit(EXIT_REFUSED)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _show_one(config: ServerConfig, submission: dict[str, Any]) -> None:
    typer.echo(_describe(submission))
    if submission["status"] != "finished":
        return
    for result in _request(config, "GET", f"/submissions/{submission['id']}/results"):
        typer.echo(
            f"  {result['split']} split, {result['estimator']} estimator: score "
            f"{_score_text(result['score'], result['ci_low'], result['ci_high'])}, "
            f"forget quality {_number(result.get('forget_quality'))}, "
            f"noise floor {_number(result.get('noise_floor'))}"
        )
        try:
            report = EvaluationReport.model_validate(result.get("report") or {})
        except ValidationError:
            typer.echo("    (a report this version of unlearn cannot read: update it)")
        else:
            for line in _report_lines(report):
                typer.echo(f"    {line}")
        if result.get("plots"):
            typer.echo(f"    plots: {', '.join(result['plots'])}")


def _report_lines(report: EvaluationReport) -> list[str]:
    """What `unlearn status` prints of a report beyond the score: accuracies, the gate,
    the attacks and figures beside the score."""
    lines = []
    if report.accuracy is not None:
        u, r = report.accuracy.unlearned, report.accuracy.retrained
        lines += [
            f"retain accuracy: {u.retain:.4f} (retrained {r.retain:.4f}, "
            f"ratio {report.accuracy.retain_ratio:.3f})",
            f"test accuracy: {u.test:.4f} (retrained {r.test:.4f}, "
            f"ratio {report.accuracy.test_ratio:.3f})",
        ]
    if report.efficiency is not None:
        lines.append(f"efficiency: {report.efficiency.verdict()}")
    if report.originals is not None:
        scores = ", ".join(
            "-" if row.final_score is None else f"{row.final_score:.3f}"
            for row in report.originals.scores
        )
        lines.append(f"score per original model ({report.originals.count}): {scores}")
    population, lira = report.mia.population, report.mia.lira
    if population is not None or lira is not None:
        lines.append("membership-inference attacks (beside the score, not part of it):")
    if population is not None:
        retrained = population.retrained
        baseline = "unavailable" if retrained is None else f"{retrained.accuracy:.3f}"
        lines.append(
            f"  population attack accuracy {population.accuracy:.3f} "
            f"(retrained models {baseline}; 0.5 = no trace)"
        )
    if lira is not None:
        lines.append(f"  per-example LiRA AUC {lira.auc:.3f}")
    figures = {k: f for k, f in report.beside_score.items() if k not in ("lira_auc", "population")}
    if figures:
        lines.append("beside the score, not part of it:")
    for figure in figures.values():
        value = "unavailable" if figure.value is None else f"{figure.value:.3f}"
        lines.append(f"  {figure.label}: {value}")
    return lines


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def status(
    submission_id: Annotated[
        int | None, typer.Argument(help="one submission; omit to list your team's")
    ] = None,
    phase: Annotated[int | None, typer.Option(help="list only this phase's")] = None,
) -> None:
    """Show one submission with its scores, or list your team's submissions."""
    config = load_server_config()
    if not config.token:
        _fail("not logged in: " + HINTS["not_authenticated"])
    if submission_id is not None:
        _show_one(config, _request(config, "GET", f"/submissions/{submission_id}"))
        return
    params = {"phase_id": phase} if phase is not None else {}
    page = _request(config, "GET", "/submissions", params=params)
    if not page["data"]:
        typer.echo("no submissions yet")
    for submission in page["data"]:
        typer.echo(_describe(submission))


def leaderboard(
    phase: Annotated[int, typer.Option(help="the phase (its number)")],
    split: Annotated[str, typer.Option(help="public, or private once the phase has ended")] = (
        "public"
    ),
) -> None:
    """Print a phase's leaderboard with each score's confidence interval."""
    if split not in ("public", "private"):
        _fail(f"--split must be 'public' or 'private', got {split!r}")
    config = load_server_config()
    board = _request(config, "GET", f"/phases/{phase}/leaderboard", params={"split": split})
    typer.echo(f"phase {phase}, {split} leaderboard ({len(board['rows'])} teams)")
    if not board["rows"]:
        return
    typer.echo(f"{'rank':>4}  {'team':<24} {'score [95% interval]':<30} submission")
    for row in board["rows"]:
        tie = " (tied with the row above)" if row.get("tied_with_above") else ""
        typer.echo(
            f"{row['rank']:>4}  {row['team_name'][:24]:<24} "
            f"{_score_text(row['score'], row['ci_low'], row['ci_high']):<30} "
            f"#{row['submission_id']}{tie}"
        )
