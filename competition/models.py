"""Database models (SQLAlchemy 2, `Mapped[]`) and the submission state machine.

Tables: users, teams, api_tokens, phases, phase_secrets, submissions, submission_events,
results, leaderboard_snapshots, quota_counters, workers. A phase keeps its experiment in one
validated JSON column (`Phase.experiment`, read and written as `Phase.config`, a
`harness.phase.PhaseConfig`) and its leaderboard seeds apart (`PhaseSecrets`). The state
machine is here in one place: `SubmissionStatus`, the `TRANSITIONS` table, and
`transition()`, which every status change goes through; it refuses illegal moves and records
a `SubmissionEvent` row with the time of the move.

    received -> validated -> queued -> sanity_check -> running -> scoring -> finished
                                  \\______________(phase without sanity check)_/
    any non-terminal -> failed (with a category) | cancelled
    sanity_check/running/scoring -> queued      (system retry: attempt + 1)
    finished/failed -> queued                    (organizer rescore: attempt + 1)
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    validates,
)

from harness.phase import PhaseConfig
from harness.phase_schema import LEADERBOARD_SEEDS, validate_phase


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], length: int = 30) -> Enum:
    """Stored as the member's value in a VARCHAR (portable; no native ENUM to migrate)."""
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    PARTICIPANT = "participant"
    ORGANIZER = "organizer"


class TokenKind(enum.StrEnum):
    API = "api"
    SESSION = "session"


class SubmissionStatus(enum.StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    QUEUED = "queued"
    SANITY_CHECK = "sanity_check"
    RUNNING = "running"
    SCORING = "scoring"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = SubmissionStatus
TERMINAL_STATUSES = frozenset({S.FINISHED, S.FAILED, S.CANCELLED})
# Before the expensive run starts a cancellation is refunded (nothing was spent).
NOT_STARTED_STATUSES = frozenset({S.RECEIVED, S.VALIDATED, S.QUEUED})

TRANSITIONS: dict[SubmissionStatus, frozenset[SubmissionStatus]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.FAILED, S.CANCELLED}),
    S.VALIDATED: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.SANITY_CHECK, S.RUNNING, S.FAILED, S.CANCELLED}),
    S.SANITY_CHECK: frozenset({S.RUNNING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SCORING, S.QUEUED, S.FAILED, S.CANCELLED}),
    # scoring -> running: the public result is stored and the private split runs next.
    S.SCORING: frozenset({S.FINISHED, S.RUNNING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.FINISHED: frozenset({S.QUEUED}),
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset(),
}


class FailureCategory(enum.StrEnum):
    """Why a submission failed: the first group is the participant's doing, the rest the system's.

    Only system failures are refunded (see `lifecycle.mark_failed`).
    """

    INVALID_SUBMISSION = "invalid_submission"
    SANITY_CHECK_FAILED = "sanity_check_failed"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    INVALID_OUTPUT = "invalid_output"
    TOO_SLOW = "too_slow"  # failed the phase's efficiency gate
    SYSTEM = "system"
    SCORER = "scorer"
    WORKER_LOST = "worker_lost"
    PHASE_UNAVAILABLE = "phase_unavailable"  # its reference models could not be prepared


class IllegalTransition(ValueError):
    """A status change that the state machine does not allow."""


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    join_code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="team")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, 20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship(back_populates="members")

    @property
    def is_organizer(self) -> bool:
        return self.role == Role.ORGANIZER


class ApiToken(Base):
    """A bearer secret (API) or a browser session; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TokenKind] = mapped_column(_enum(TokenKind, 20))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class Phase(Base):
    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # The experiment: one `harness.phase.PhaseConfig`, stored as its JSON without the
    # leaderboard seeds (those are `hidden_seeds`). Written only through `config` or
    # `Phase(experiment=...)`, both validated by `_valid_experiment`.
    experiment: Mapped[dict[str, Any]] = mapped_column()
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    daily_quota: Mapped[int] = mapped_column(Integer, default=5)
    # Submissions of one team not yet finished, failed or cancelled; 0: no cap.
    max_in_flight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    show_logs: Mapped[bool] = mapped_column(Boolean, default=False)
    sanity_check_required: Mapped[bool] = mapped_column(Boolean, default=True)
    # Hidden from the phase list and closed to uploads; kept with its submissions.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The leaderboard splits' seeds: a table of their own, so that no schema built from a
    # phase (`PhasePublic`, pages, exports) can reach them by accident.
    hidden_seeds: Mapped[PhaseSecrets | None] = relationship(
        back_populates="phase", cascade="all, delete-orphan", uselist=False
    )

    @validates("experiment")
    def _valid_experiment(self, _key: str, value: PhaseConfig | dict[str, Any]) -> dict[str, Any]:
        config = value if isinstance(value, PhaseConfig) else validate_phase(value)
        return stored_experiment(config)

    @property
    def config(self) -> PhaseConfig:
        """The published experiment; its leaderboard seeds are the model's placeholders (the
        real ones: `hidden_seeds`, filled in by `worker.phases.phase_info`). ConfigError if
        the stored experiment no longer passes the registries' checks."""
        return validate_phase(self.experiment)

    @config.setter
    def config(self, config: PhaseConfig) -> None:
        self.experiment = stored_experiment(config)

    def is_open(self, now: datetime) -> bool:
        return not self.archived and self.starts_at <= now < self.ends_at

    def has_ended(self, now: datetime) -> bool:
        return now >= self.ends_at


def stored_experiment(config: PhaseConfig) -> dict[str, Any]:
    """`config` as `Phase.experiment` holds it and `PhasePublic.experiment` shows it: its
    JSON less the leaderboard seeds, which are never stored with the experiment."""
    return config.model_dump(mode="json", exclude={"split": set(LEADERBOARD_SEEDS)})


# Seeds are drawn below 2**62: they fit a signed 64-bit column and numpy's generators.
SEED_BITS = 62


def new_seed() -> int:
    """A seed nobody can guess (the `secrets` module, not a default or a clock)."""
    return secrets.randbits(SEED_BITS)


class PhaseSecrets(Base):
    """The forget-set seeds of a phase's public and private leaderboards.

    Made by the server when the phase is created (never given by an organizer, never a
    default), read by the workers to cut the splits and by organizers on their own route;
    no participant-facing schema, page, export or log line includes them.
    """

    __tablename__ = "phase_secrets"

    phase_id: Mapped[int] = mapped_column(
        ForeignKey("phases.id", ondelete="CASCADE"), primary_key=True
    )
    public_seed: Mapped[int] = mapped_column(BigInteger)
    private_seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phase: Mapped[Phase] = relationship(back_populates="hidden_seeds")

    @classmethod
    def generate(cls) -> PhaseSecrets:
        public = new_seed()
        private = new_seed()
        while private == public:
            private = new_seed()
        return cls(public_seed=public, private_seed=private)

    def split_seeds(self) -> dict[str, int]:
        """The `SplitConfig` fields these seeds fill in."""
        return {"public_seed": self.public_seed, "private_seed": self.private_seed}


@event.listens_for(Session, "before_flush")
def _every_phase_gets_seeds(session: Session, _context: Any, _instances: Any) -> None:
    # However a phase is made (API, CLI, a script), it is stored with server-made seeds.
    for obj in session.new:
        if isinstance(obj, Phase) and obj.hidden_seeds is None:
            obj.hidden_seeds = PhaseSecrets.generate()


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_phase_team", "phase_id", "team_id"),
        Index("ix_submissions_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))  # "py" or "zip"
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    code_key: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus, 20), default=S.RECEIVED
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    failure_category: Mapped[FailureCategory | None] = mapped_column(_enum(FailureCategory, 30))
    failure_message: Mapped[str] = mapped_column(Text, default="")
    # The split whose run failed, when one did: a private-split failure shows participants
    # its category only (its text is a channel the submission writes).
    failure_split: Mapped[str | None] = mapped_column(String(10))
    quota_day: Mapped[date] = mapped_column(Date)
    counts_against_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    sanity_check_passed: Mapped[bool | None] = mapped_column(Boolean)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)
    logs_key: Mapped[str | None] = mapped_column(String(255))
    # Latest scored attempt per split, copied from `results` so leaderboards read one table.
    public_score: Mapped[float | None] = mapped_column(Float)
    public_ci_low: Mapped[float | None] = mapped_column(Float)
    public_ci_high: Mapped[float | None] = mapped_column(Float)
    private_score: Mapped[float | None] = mapped_column(Float)
    private_ci_low: Mapped[float | None] = mapped_column(Float)
    private_ci_high: Mapped[float | None] = mapped_column(Float)
    # Set when racing stopped the evaluation before the phase's N: the runs (per split) its
    # scores stand on. The board marks such a row provisional.
    provisional_runs: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    phase: Mapped[Phase] = relationship()
    team: Mapped[Team] = relationship()
    events: Mapped[list[SubmissionEvent]] = relationship(
        back_populates="submission", order_by="SubmissionEvent.id"
    )
    results: Mapped[list[Result]] = relationship(viewonly=True, order_by="Result.id")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def public_done_at(self) -> datetime | None:
        """When the current attempt's public result was stored: the end of its public stage
        (the private split runs after it, `worker.leases.stage`); None before."""
        times = [
            r.created_at for r in self.results if r.split == "public" and r.attempt == self.attempt
        ]
        return min(times) if times else None


# Leaderboards pick each team's best row of a phase in exactly this order: no sort needed.
Index(
    "ix_submissions_board",
    Submission.phase_id,
    Submission.team_id,
    Submission.public_score.desc(),
    Submission.created_at,
    Submission.id,
)


class SubmissionEvent(Base):
    """One stored status transition: from, to, when, and why."""

    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[SubmissionStatus | None] = mapped_column(_enum(SubmissionStatus, 20))
    to_status: Mapped[SubmissionStatus] = mapped_column(_enum(SubmissionStatus, 20))
    attempt: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="events")


class Result(Base):
    """Scores of one split for one attempt of a submission (upserted: idempotent)."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("submission_id", "split", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(10))  # "public" or "private"
    attempt: Mapped[int] = mapped_column(Integer)
    estimator: Mapped[str] = mapped_column(String(50))
    score: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    forget_quality: Mapped[float | None] = mapped_column(Float)
    noise_floor: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    plot_keys: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaderboardSnapshot(Base):
    """A frozen private leaderboard: stored once when its phase ends, and again (a new
    version) only when an organizer refreezes it; the versions are the board's history."""

    __tablename__ = "leaderboard_snapshots"
    __table_args__ = (UniqueConstraint("phase_id", "split", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    board: Mapped[dict[str, Any]] = mapped_column()
    # None: frozen automatically at the phase's end; else the organizer who refroze it.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuotaCounter(Base):
    """Submissions charged to a team in a phase on one UTC day; updated with a guarded UPDATE."""

    __tablename__ = "quota_counters"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Worker(Base):
    """Liveness of an evaluation worker, for the organizer dashboard."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    current_submission_id: Mapped[int | None] = mapped_column(Integer)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


def transition(
    session: Session,
    submission: Submission,
    to: SubmissionStatus,
    *,
    note: str = "",
) -> SubmissionEvent:
    """Move `submission` to status `to`, or raise `IllegalTransition`; records the event.

    The caller owns the transaction (and should hold the row lock when racing workers).
    """
    if to not in TRANSITIONS[submission.status]:
        raise IllegalTransition(
            f"submission {submission.id}: cannot go from {submission.status.value} to {to.value}"
        )
    now = utcnow()
    event_row = SubmissionEvent(
        submission_id=submission.id,
        from_status=submission.status,
        to_status=to,
        attempt=submission.attempt,
        note=note,
        at=now,
    )
    submission.status = to
    submission.updated_at = now
    session.add(event_row)
    return event_row
