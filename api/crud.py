"""Every read and write of the database, as functions that take a `Session` and keyword args.

Routes, pages, the CLI and the evaluation workers all call these; none of them writes rows
itself. Each mutating function commits its own unit of work. Status changes go through
`models.transition()` under a row lock (`_lock_submission`), so two workers racing on one
submission cannot both move it.

Worker-facing functions (the contract the pipeline builds on):
- `claim_next(session, worker=...)` / `start_sanity_check` / `record_sanity_check`
- `start_running`, `start_scoring`, `attach_logs`
- `record_result(session, submission_id=, attempt=, split=, report=)` (idempotent upsert)
- `mark_failed(session, submission_id=, category=, message=, system_error=)` (refunds quota
  when `system_error`), `requeue_for_retry` (system retry, attempt + 1)
- `heartbeat(session, hostname=, submission_id=)`
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import schemas
from api.models import (
    NOT_STARTED_STATUSES,
    TERMINAL_STATUSES,
    ApiToken,
    FailureCategory,
    Phase,
    QuotaCounter,
    Result,
    Role,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
    Team,
    TokenKind,
    User,
    Worker,
    transition,
    utcnow,
)
from api.security import hash_password, hash_token, new_token, verify_password
from api.storage import ArtifactStore, submission_code_key
from api.upload import ValidatedUpload

logger = logging.getLogger(__name__)

S = SubmissionStatus
SPLITS = ("public", "private")


class CrudError(Exception):
    """A request that the data forbids; `code` is the machine-readable kind for error bodies."""

    code = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CrudError):
    code = "not_found"


class Conflict(CrudError):
    code = "conflict"


class QuotaExceeded(CrudError):
    code = "quota_exceeded"


class TooManyInFlight(CrudError):
    code = "too_many_in_flight"


class PhaseClosed(CrudError):
    code = "phase_closed"


class StaleAttempt(CrudError):
    """A worker reported on an attempt that is no longer current (fenced off)."""

    code = "stale_attempt"


# Users, teams, tokens -------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role = Role.PARTICIPANT,
    team_name: str | None = None,
    join_code: str | None = None,
) -> User:
    """A new account. Participants always belong to a team: joined by code, named, or solo."""
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"an account with e-mail {email} already exists; log in instead")
    team: Team | None = None
    if join_code:
        team = session.scalar(select(Team).where(Team.join_code == join_code))
        if team is None:
            raise NotFound("no team has this join code; ask a team mate for the current one")
    elif role == Role.PARTICIPANT:
        team = _new_team(session, team_name or display_name)
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        team=team,
    )
    session.add(user)
    _commit(session, f"e-mail {email} or team name already taken")
    return user


def _new_team(session: Session, name: str) -> Team:
    name = name.strip()
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"team name {name!r} is taken; choose another or join with a code")
    team = Team(name=name, join_code=secrets.token_urlsafe(12))
    session.add(team)
    return team


def create_team(session: Session, *, user: User, name: str) -> Team:
    _refuse_team_change_after_submitting(session, user)
    team = _new_team(session, name)
    user.team = team
    _commit(session, f"team name {name!r} is taken")
    return team


def join_team(session: Session, *, user: User, join_code: str) -> Team:
    _refuse_team_change_after_submitting(session, user)
    team = session.scalar(select(Team).where(Team.join_code == join_code))
    if team is None:
        raise NotFound("no team has this join code; ask a team mate for the current one")
    user.team = team
    session.commit()
    return team


def _require_participant(user: User) -> None:
    if user.role != Role.PARTICIPANT:
        raise Conflict("organizers do not belong to teams")


def _refuse_team_change_after_submitting(session: Session, user: User) -> None:
    # Moving teams after submitting would reset the daily quota; refuse it.
    _require_participant(user)
    has_submissions = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.user_id == user.id)
    )
    if has_submissions:
        raise Conflict("you have already submitted; ask an organizer to change your team")


def move_to_team(session: Session, *, user_id: int, team_id: int) -> User:
    """An organizer's move of a participant, allowed after submitting: the submissions made
    so far stay with the team they were made for (quota, leaderboard rows, final pick)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    _require_participant(user)
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team {team_id}")
    previous = user.team_id
    user.team = team
    session.commit()
    logger.info("user %d moved from team %s to team %d", user.id, previous, team.id)
    return user


def list_users(
    session: Session, *, limit: int, offset: int, team_id: int | None = None
) -> tuple[list[User], int]:
    query = select(User) if team_id is None else select(User).where(User.team_id == team_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


def list_teams(session: Session, *, limit: int, offset: int) -> tuple[list[Team], int]:
    total = session.scalar(select(func.count()).select_from(Team)) or 0
    rows = session.scalars(select(Team).order_by(Team.id).limit(limit).offset(offset))
    return list(rows), total


def team_members(session: Session, team_id: int) -> list[str]:
    return list(
        session.scalars(select(User.display_name).where(User.team_id == team_id).order_by(User.id))
    )


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(password, user.password_hash if user else None):
        return None
    return user if user is not None and user.is_active else None


def create_token(
    session: Session, *, user: User, kind: TokenKind, ttl: timedelta, name: str = ""
) -> tuple[str, ApiToken]:
    """A new secret for `user`; returns the plaintext (shown once) and the stored row."""
    plaintext, digest = new_token()
    token = ApiToken(
        user_id=user.id, kind=kind, name=name, token_hash=digest, expires_at=utcnow() + ttl
    )
    session.add(token)
    session.commit()
    return plaintext, token


def user_for_token(session: Session, plaintext: str) -> User | None:
    row = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(plaintext), ApiToken.revoked.is_(False))
    ).first()
    if row is None or row[1] <= utcnow() or not row[0].is_active:
        return None
    return row[0]


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.kind == TokenKind.API,
                ApiToken.revoked.is_(False),
            )
            .order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, *, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked:
        raise NotFound(f"token {token_id} not found")
    token.revoked = True
    session.commit()


def revoke_token_by_plaintext(session: Session, plaintext: str) -> None:
    session.execute(
        update(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)).values(revoked=True)
    )
    session.commit()


# Phases --------------------------------------------------------------------------------------


def create_phase(session: Session, data: schemas.PhaseCreate) -> Phase:
    phase = Phase(**data.model_dump())
    session.add(phase)
    _commit(session, f"a phase named {data.name!r} already exists")
    return phase


def update_phase(session: Session, phase: Phase, data: schemas.PhaseUpdate) -> Phase:
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(phase, key, value)
    if phase.ends_at <= phase.starts_at:
        session.rollback()
        raise Conflict("ends_at must be after starts_at")
    session.commit()
    return phase


def get_phase(session: Session, phase_id: int) -> Phase:
    phase = session.get(Phase, phase_id)
    if phase is None:
        raise NotFound(f"phase {phase_id} not found")
    return phase


def list_phases(session: Session, *, limit: int, offset: int) -> tuple[list[Phase], int]:
    total = session.scalar(select(func.count()).select_from(Phase)) or 0
    rows = session.scalars(
        select(Phase).order_by(Phase.starts_at, Phase.id).limit(limit).offset(offset)
    )
    return list(rows), total


# Quota ---------------------------------------------------------------------------------------


def _reserve_quota(session: Session, *, team_id: int, phase_id: int, day: date, limit: int) -> bool:
    """Charge one submission to (team, phase, day) if below `limit`; atomic on both databases.

    The counter row is created idempotently, then one guarded UPDATE increments it only while
    `used < limit`: concurrent uploads serialise on the row lock and the loser sees rowcount 0.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(QuotaCounter)
        .values(team_id=team_id, phase_id=phase_id, day=day, used=0)
        .on_conflict_do_nothing()
    )
    result = session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.team_id == team_id,
            QuotaCounter.phase_id == phase_id,
            QuotaCounter.day == day,
            QuotaCounter.used < limit,
        )
        .values(used=QuotaCounter.used + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _refund_quota(session: Session, submission: Submission) -> None:
    if not submission.counts_against_quota:
        return
    session.execute(
        update(QuotaCounter)
        .where(
            QuotaCounter.team_id == submission.team_id,
            QuotaCounter.phase_id == submission.phase_id,
            QuotaCounter.day == submission.quota_day,
            QuotaCounter.used > 0,
        )
        .values(used=QuotaCounter.used - 1)
    )
    submission.counts_against_quota = False


def _in_flight(session: Session, team_id: int, phase_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.team_id == team_id,
                Submission.phase_id == phase_id,
                Submission.status.not_in(TERMINAL_STATUSES),
            )
        )
        or 0
    )


def quota_used(session: Session, *, team_id: int, phase_id: int, day: date) -> int:
    used = session.scalar(
        select(QuotaCounter.used).where(
            QuotaCounter.team_id == team_id,
            QuotaCounter.phase_id == phase_id,
            QuotaCounter.day == day,
        )
    )
    return used or 0


# Submissions: participant side ---------------------------------------------------------------


def create_submission(
    session: Session,
    store: ArtifactStore,
    *,
    phase: Phase,
    user: User,
    filename: str,
    upload: ValidatedUpload,
    data: bytes,
    now: datetime | None = None,
) -> Submission:
    """Charge the quota, store the code and commit the row in state `queued`.

    On return the row and the code are durable; only then may the caller enqueue it. Any
    failure before the commit rolls everything back, quota included.
    """
    now = now or utcnow()
    if user.team_id is None:
        raise Conflict("only team members can submit; create or join a team first")
    if not phase.is_open(now):
        raise PhaseClosed(
            f"phase {phase.name!r} accepts submissions from {phase.starts_at.isoformat()} "
            f"to {phase.ends_at.isoformat()}"
        )
    day = now.date()
    try:
        if not _reserve_quota(
            session, team_id=user.team_id, phase_id=phase.id, day=day, limit=phase.daily_quota
        ):
            raise QuotaExceeded(
                f"your team has used its {phase.daily_quota} submissions for {day.isoformat()} "
                "(UTC) in this phase; failed submissions due to system errors are refunded"
            )
        # Counted after the quota row is locked, so a team's concurrent uploads see each
        # other (they serialise on that row until commit).
        if (
            phase.max_in_flight
            and _in_flight(session, user.team_id, phase.id) >= phase.max_in_flight
        ):
            raise TooManyInFlight(
                f"your team already has {phase.max_in_flight} submissions being evaluated in "
                "this phase, its limit; submit again when one has finished (nothing was charged)"
            )
        submission = Submission(
            phase_id=phase.id,
            team_id=user.team_id,
            user_id=user.id,
            filename=filename[:255],
            kind=upload.kind,
            sha256=upload.sha256,
            size_bytes=upload.size_bytes,
            status=S.RECEIVED,
            quota_day=day,
            created_at=now,
            updated_at=now,
        )
        session.add(submission)
        session.flush()  # assigns the id that names the artifact folder
        submission.code_key = submission_code_key(submission.id, upload.kind)
        store.put_bytes(submission.code_key, data)
        _record_creation(session, submission)
        transition(session, submission, S.VALIDATED, note="static checks passed")
        transition(session, submission, S.QUEUED)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    logger.info("submission %d stored and queued (team %d)", submission.id, submission.team_id)
    return submission


def _record_creation(session: Session, submission: Submission) -> None:
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            from_status=None,
            to_status=S.RECEIVED,
            attempt=submission.attempt,
            note=f"{submission.kind} upload, {submission.size_bytes} bytes",
            at=submission.created_at,
        )
    )


def get_submission(session: Session, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"submission {submission_id} not found")
    return submission


def list_submissions(
    session: Session,
    *,
    team_id: int | None,
    phase_id: int | None,
    status: SubmissionStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Submission], int]:
    """Newest first. `team_id=None` lists every team's (organizers only)."""
    query = select(Submission)
    if team_id is not None:
        query = query.where(Submission.team_id == team_id)
    if phase_id is not None:
        query = query.where(Submission.phase_id == phase_id)
    if status is not None:
        query = query.where(Submission.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Submission.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def cancel_submission(session: Session, *, submission_id: int) -> Submission:
    """Cancel; refunded when the expensive run had not started (nothing was spent)."""
    submission = _lock_submission(session, submission_id)
    if submission.is_terminal:
        session.rollback()
        raise Conflict(f"submission {submission_id} is already {submission.status.value}")
    if submission.status in NOT_STARTED_STATUSES:
        _refund_quota(session, submission)
    transition(session, submission, S.CANCELLED, note="cancelled by the team")
    session.commit()
    return submission


def select_final(session: Session, *, submission_id: int) -> Submission:
    """Make this the team's final submission for the phase (one per team and phase)."""
    submission = _lock_submission(session, submission_id)
    if submission.disqualified:
        session.rollback()
        raise Conflict("a disqualified submission cannot be selected")
    if submission.status == S.CANCELLED or (
        submission.status == S.FAILED and submission.public_score is None
    ):
        session.rollback()
        raise Conflict(f"a {submission.status.value} submission cannot be final")
    session.execute(
        update(Submission)
        .where(
            Submission.team_id == submission.team_id,
            Submission.phase_id == submission.phase_id,
            Submission.id != submission.id,
        )
        .values(is_final=False)
    )
    submission.is_final = True
    session.commit()
    return submission


def results_for(session: Session, *, submission_id: int, splits: Iterable[str]) -> list[Result]:
    """The newest attempt's result per split."""
    rows = session.scalars(
        select(Result)
        .where(Result.submission_id == submission_id, Result.split.in_(list(splits)))
        .order_by(Result.split, Result.attempt.desc())
    )
    newest: dict[str, Result] = {}
    for row in rows:
        newest.setdefault(row.split, row)
    return list(newest.values())


# Submissions: organizer side -----------------------------------------------------------------


def rescore(session: Session, *, submission_id: int) -> Submission:
    """Re-evaluate as a new attempt of the same submission (never a new submission)."""
    submission = _lock_submission(session, submission_id)
    if submission.status not in (S.FINISHED, S.FAILED):
        session.rollback()
        raise Conflict(
            f"submission {submission_id} is {submission.status.value}; only finished or failed "
            "submissions can be rescored"
        )
    submission.attempt += 1
    submission.failure_category = None
    submission.failure_message = ""
    submission.sanity_check_passed = None
    transition(
        session, submission, S.QUEUED, note=f"rescore by an organizer: attempt {submission.attempt}"
    )
    session.commit()
    return submission


def disqualify(session: Session, *, submission_id: int, reason: str) -> Submission:
    submission = _lock_submission(session, submission_id)
    submission.disqualified = True
    submission.is_final = False
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            from_status=submission.status,
            to_status=submission.status,
            attempt=submission.attempt,
            note=f"disqualified: {reason}",
        )
    )
    session.commit()
    return submission


def status_overview(session: Session) -> list[tuple[SubmissionStatus, int, datetime | None]]:
    rows = session.execute(
        select(Submission.status, func.count(), func.min(Submission.updated_at)).group_by(
            Submission.status
        )
    ).all()
    found = {status: (count, oldest) for status, count, oldest in rows}
    return [(status, *found.get(status, (0, None))) for status in SubmissionStatus]


def failures_by_category(session: Session) -> list[tuple[FailureCategory, int]]:
    rows = session.execute(
        select(Submission.failure_category, func.count())
        .where(Submission.status == S.FAILED, Submission.failure_category.is_not(None))
        .group_by(Submission.failure_category)
        .order_by(func.count().desc())
    ).all()
    return [(category, count) for category, count in rows if category is not None]


def list_workers(session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.last_seen.desc())))


# Worker side ---------------------------------------------------------------------------------


def list_queued(session: Session, *, limit: int = 100) -> list[int]:
    """Ids of queued submissions, oldest first: what a reconciler re-enqueues."""
    return list(
        session.scalars(
            select(Submission.id)
            .where(Submission.status == S.QUEUED)
            .order_by(Submission.updated_at, Submission.id)
            .limit(limit)
        )
    )


def claim_next(session: Session, *, worker: str) -> Submission | None:
    """Claim the oldest queued submission (for the database queue); None when idle."""
    for submission_id in list_queued(session, limit=10):
        try:
            return start_sanity_check(session, submission_id=submission_id, worker=worker)
        except Conflict:
            continue  # another worker won the race for this one
    return None


def start_sanity_check(session: Session, *, submission_id: int, worker: str) -> Submission:
    """queued -> sanity_check, or straight to running when the phase needs no sanity check."""
    submission = _lock_submission(session, submission_id)
    if submission.status != S.QUEUED:
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}, not queued")
    if submission.phase.sanity_check_required:
        transition(session, submission, S.SANITY_CHECK, note=f"worker {worker}")
    else:
        transition(session, submission, S.RUNNING, note=f"worker {worker}; no sanity check")
    _touch_worker(session, worker, submission.id)
    session.commit()
    return submission


def record_sanity_check(
    session: Session, *, submission_id: int, attempt: int, passed: bool, message: str = ""
) -> Submission:
    """Outcome of the cheap run on public data: pass -> running; fail -> failed (user error)."""
    submission = _lock_submission(session, submission_id)
    _check_attempt(session, submission, attempt)
    if submission.status != S.SANITY_CHECK:
        session.rollback()
        if submission.sanity_check_passed == passed:
            return submission  # replayed message: already recorded
        raise Conflict(f"submission {submission_id} is {submission.status.value}")
    submission.sanity_check_passed = passed
    if passed:
        transition(session, submission, S.RUNNING, note="sanity check passed")
    else:
        submission.failure_category = FailureCategory.SANITY_CHECK_FAILED
        submission.failure_message = message
        transition(session, submission, S.FAILED, note="sanity check failed")
    session.commit()
    return submission


def start_running(session: Session, *, submission_id: int, attempt: int, worker: str) -> Submission:
    return _advance(session, submission_id, attempt, S.RUNNING, f"worker {worker}")


def start_scoring(session: Session, *, submission_id: int, attempt: int) -> Submission:
    return _advance(session, submission_id, attempt, S.SCORING, "runs done; scoring")


def _advance(
    session: Session, submission_id: int, attempt: int, to: SubmissionStatus, note: str
) -> Submission:
    submission = _lock_submission(session, submission_id)
    _check_attempt(session, submission, attempt)
    if submission.status == to:
        session.rollback()
        return submission  # idempotent replay
    try:
        transition(session, submission, to, note=note)
    except ValueError as exc:
        session.rollback()
        raise Conflict(str(exc)) from None
    session.commit()
    return submission


def record_result(
    session: Session,
    *,
    submission_id: int,
    attempt: int,
    split: Literal["public", "private"],
    report: dict[str, Any],
    plot_keys: Sequence[str] = (),
) -> Result:
    """Store the scorer's report for one split; idempotent per (submission, split, attempt).

    `report` is `harness.score.ScoreReport.to_dict()`: `final_score`, `final_score_ci`,
    `forget_quality`, `noise_floor`, `estimator`, ... When both splits of the current attempt
    are stored the submission becomes `finished`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'public' or 'private', got {split!r}")
    score = _finite(report, "final_score")
    ci = report.get("final_score_ci") or (None, None)
    if len(ci) != 2:
        raise ValueError(f"final_score_ci must be [low, high], got {ci!r}")
    submission = _lock_submission(session, submission_id)
    _check_attempt(session, submission, attempt)
    if submission.status in (S.CANCELLED, S.FAILED):
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}; result ignored")
    values = dict(
        estimator=str(report.get("estimator", "")),
        score=score,
        ci_low=_optional_float(ci[0]),
        ci_high=_optional_float(ci[1]),
        forget_quality=_optional_float(report.get("forget_quality")),
        noise_floor=_optional_float(report.get("noise_floor")),
        report=report,
        plot_keys=list(plot_keys),
    )
    result = session.scalar(
        select(Result).where(
            Result.submission_id == submission_id, Result.split == split, Result.attempt == attempt
        )
    )
    if result is None:
        result = Result(submission_id=submission_id, split=split, attempt=attempt, **values)
        session.add(result)
    else:
        for key, value in values.items():
            setattr(result, key, value)
    setattr(submission, f"{split}_score", values["score"])
    setattr(submission, f"{split}_ci_low", values["ci_low"])
    setattr(submission, f"{split}_ci_high", values["ci_high"])
    if submission.status == S.RUNNING:
        transition(session, submission, S.SCORING, note="first result arrived")
    session.flush()
    stored = set(
        session.scalars(
            select(Result.split).where(
                Result.submission_id == submission_id, Result.attempt == attempt
            )
        )
    )
    if stored == set(SPLITS) and submission.status == S.SCORING:
        transition(session, submission, S.FINISHED, note="public and private scores stored")
    session.commit()
    return result


def mark_failed(
    session: Session,
    *,
    submission_id: int,
    category: FailureCategory | str,
    message: str,
    system_error: bool,
) -> Submission:
    """Fail the submission with a category; a system error refunds the team's quota.

    `message` is shown to the team, so it must not carry hidden data. Idempotent: failing an
    already failed submission changes nothing; finished or cancelled ones are left alone.
    """
    category = FailureCategory(category)
    submission = _lock_submission(session, submission_id)
    if submission.is_terminal:
        session.rollback()
        logger.info("mark_failed on %s submission %d ignored", submission.status, submission_id)
        return submission
    submission.failure_category = category
    submission.failure_message = message
    if system_error:
        _refund_quota(session, submission)
    kind = "system" if system_error else "submission"
    transition(session, submission, S.FAILED, note=f"{kind} failure: {category.value}")
    session.commit()
    return submission


def requeue_for_retry(
    session: Session, *, submission_id: int, attempt: int, reason: str
) -> Submission:
    """A transient system failure: back to `queued` as attempt + 1 (the caller re-enqueues)."""
    submission = _lock_submission(session, submission_id)
    _check_attempt(session, submission, attempt)
    if submission.status not in (S.SANITY_CHECK, S.RUNNING, S.SCORING):
        session.rollback()
        raise Conflict(f"submission {submission_id} is {submission.status.value}")
    submission.attempt += 1
    transition(session, submission, S.QUEUED, note=f"system retry: {reason}")
    session.commit()
    return submission


def attach_logs(
    session: Session, store: ArtifactStore, *, submission_id: int, attempt: int, text: str
) -> str:
    """Store the run's logs as an artifact; returns its key."""
    key = f"submissions/{submission_id}/logs/attempt-{attempt}.txt"
    store.put_bytes(key, text.encode("utf-8"))
    submission = _lock_submission(session, submission_id)
    submission.logs_key = key
    session.commit()
    return key


def heartbeat(session: Session, *, hostname: str, submission_id: int | None = None) -> None:
    _touch_worker(session, hostname, submission_id)
    session.commit()


def _touch_worker(session: Session, hostname: str, submission_id: int | None) -> None:
    worker = session.scalar(select(Worker).where(Worker.hostname == hostname))
    if worker is None:
        worker = Worker(hostname=hostname)
        session.add(worker)
    worker.last_seen = utcnow()
    worker.current_submission_id = submission_id


# Helpers -------------------------------------------------------------------------------------


def _lock_submission(session: Session, submission_id: int) -> Submission:
    """Load a submission holding its row lock until commit, on PostgreSQL and SQLite alike.

    A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite (where
    `SELECT ... FOR UPDATE` does not exist); the reload then sees the committed state.
    """
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(updated_at=Submission.updated_at)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        raise NotFound(f"submission {submission_id} not found")
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .execution_options(populate_existing=True)
    )
    assert submission is not None
    return submission


def _check_attempt(session: Session, submission: Submission, attempt: int) -> None:
    if attempt != submission.attempt:
        session.rollback()  # releases the row lock before refusing
    if attempt < submission.attempt:
        raise StaleAttempt(
            f"submission {submission.id} is on attempt {submission.attempt}; "
            f"attempt {attempt} is stale"
        )
    if attempt > submission.attempt:
        raise Conflict(f"submission {submission.id} has no attempt {attempt} yet")


def _finite(report: dict[str, Any], key: str) -> float:
    value = report.get(key)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"report[{key!r}] must be a finite number, got {value!r}")
    return float(value)


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _commit(session: Session, conflict_message: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict_message) from None
