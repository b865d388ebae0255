"""Builders for server tests: users, teams, phases, submission files, and finished results.

Users are inserted with one real argon2 hash computed once per test session (hashing costs
about half a second here), so a test with four users does not spend two seconds hashing.
Submissions are driven through the same `crud` functions the workers call.
"""

from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from api import crud, schemas
from api.security import hash_password
from competition import lifecycle
from competition.models import Phase, Role, Team, TokenKind, User, utcnow
from harness.report.schema import EvaluationReport
from tests.report_factory import racing, scored_report

PASSWORD = "correct horse battery staple"

VALID_SOURCE = b'''"""A do-nothing unlearner."""


def unlearning(net, retain_loader, forget_loader, val_loader):
    net.eval()
'''


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Member:
    user_id: int
    email: str
    team_id: int | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    organizer: Member
    alice: Member  # team A
    bob: Member  # team A
    carol: Member  # team B
    phase_id: int


def add_user(
    session: Session, *, email: str, role: Role = Role.PARTICIPANT, team: Team | None = None
) -> Member:
    user = User(
        email=email,
        display_name=email.split("@")[0].title(),
        password_hash=password_hash(),
        role=role,
        team=team,
    )
    session.add(user)
    session.commit()
    token, _ = crud.create_token(session, user=user, kind=TokenKind.API, ttl=timedelta(days=1))
    return Member(user.id, email, user.team_id, token)


def add_team(session: Session, name: str) -> Team:
    team = Team(name=name, join_code=f"code-{name}")
    session.add(team)
    session.commit()
    return team


def phase_body(**overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "name": "dev",
        "dataset": "mnist1d",
        "split_spec": {"forget_fraction": 0.02},
        "model": "mlp",
        "recipe": {"epochs": 3},
        "replicas": 8,
        "estimator": "neurips2023",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "daily_quota": 3,
        "show_logs": True,
        "sanity_check_required": True,
    }
    body.update(overrides)
    return body


def add_phase(session: Session, **overrides: Any) -> Phase:
    return crud.create_phase(session, schemas.PhaseCreate.model_validate(phase_body(**overrides)))


def build_world(app: Any) -> World:
    with app.state.sessionmaker() as session:
        team_a, team_b = add_team(session, "Team A"), add_team(session, "Team B")
        world = World(
            organizer=add_user(session, email="org@example.org", role=Role.ORGANIZER),
            alice=add_user(session, email="alice@example.org", team=team_a),
            bob=add_user(session, email="bob@example.org", team=team_a),
            carol=add_user(session, email="carol@example.org", team=team_b),
            phase_id=add_phase(session).id,
        )
    return world


def make_zip(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def report(
    score: float, *, half_width: float = 0.02, estimator: str = "neurips2023", **more: Any
) -> EvaluationReport:
    """A scored report as the worker stores it (`tests.report_factory.scored_report`)."""
    return scored_report(score, half_width=half_width, estimator=estimator, **more)


def finish(
    session: Session,
    submission_id: int,
    *,
    public: float,
    private: float,
    half_width: float = 0.02,
    plot_keys: tuple[str, ...] = (),
    stopped_at: int | None = None,
) -> None:
    """Drive a queued submission to `finished` the way a worker does (`stopped_at`: a
    racing phase stopped it after that many runs)."""
    race = racing(n=stopped_at, n_total=2 * stopped_at) if stopped_at else None
    submission = lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w1")
    attempt = submission.attempt
    if submission.status.value == "sanity_check":
        lifecycle.record_sanity_check(
            session, submission_id=submission_id, attempt=attempt, passed=True
        )
    lifecycle.start_scoring(session, submission_id=submission_id, attempt=attempt)
    lifecycle.record_result(
        session,
        submission_id=submission_id,
        attempt=attempt,
        split="public",
        report=report(public, half_width=half_width).with_racing(race),
        plot_keys=plot_keys,
    )
    lifecycle.record_result(
        session,
        submission_id=submission_id,
        attempt=attempt,
        split="private",
        report=report(private, half_width=half_width).with_racing(race),
        plot_keys=plot_keys,
    )
