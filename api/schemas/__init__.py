"""Request and response bodies of the JSON API (pydantic), by resource.

    common        errors (`ErrorBody`), `Page[X]` lists, `Message`
    accounts      log-in, sign-up, tokens, teams, users
    phases        the experiment created or edited, a phase, its preparation, secrets, quota
    submissions   a submission, its events, result, progress, logs; disqualification
    boards        leaderboards and their frozen snapshots
    console       the organizers' queue and worker overview

`XCreate`/`XUpdate` come in, `XPublic` goes out; lists are wrapped in `Page[X]`
(`data`, `count`, `limit`, `offset`). Every error body is `ErrorBody`. Every name is
re-exported here, so `from api.schemas import PhaseCreate` reads as before.
"""

from __future__ import annotations

from api.schemas.accounts import (
    LoginRequest,
    RegisterRequest,
    TeamCreate,
    TeamJoin,
    TeamMove,
    TeamPrivate,
    TeamPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserPublic,
)
from api.schemas.boards import Leaderboard, LeaderboardRow, RefreezeRequest, SnapshotPublic
from api.schemas.common import (
    EMAIL_PATTERN,
    HIDDEN_SEED_KEYS,
    ErrorBody,
    ErrorDetail,
    ErrorInfo,
    Message,
    Page,
    Split,
)
from api.schemas.console import FailureCount, QueueOverview, StatusCount, WorkerPublic
from api.schemas.phases import (
    EXPERIMENT_FIELDS,
    PHASE_COLUMNS,
    TRAINING_FIELDS,
    PhaseBase,
    PhaseCreate,
    PhasePublic,
    PhaseSecretsPublic,
    PhaseUpdate,
    PreparationPublic,
    QuotaPublic,
    SplitPreparationPublic,
    experiment_field,
)
from api.schemas.submissions import (
    DisqualifyRequest,
    LogsPublic,
    ProgressPublic,
    ResultPublic,
    SplitProgress,
    SubmissionEventPublic,
    SubmissionPublic,
    ValidationReport,
)

__all__ = [
    "DisqualifyRequest",
    "EMAIL_PATTERN",
    "EXPERIMENT_FIELDS",
    "ErrorBody",
    "ErrorDetail",
    "ErrorInfo",
    "FailureCount",
    "HIDDEN_SEED_KEYS",
    "Leaderboard",
    "LeaderboardRow",
    "LoginRequest",
    "LogsPublic",
    "Message",
    "PHASE_COLUMNS",
    "Page",
    "PhaseBase",
    "PhaseCreate",
    "PhasePublic",
    "PhaseSecretsPublic",
    "PhaseUpdate",
    "PreparationPublic",
    "ProgressPublic",
    "QueueOverview",
    "QuotaPublic",
    "RefreezeRequest",
    "RegisterRequest",
    "ResultPublic",
    "SnapshotPublic",
    "Split",
    "SplitPreparationPublic",
    "SplitProgress",
    "StatusCount",
    "SubmissionEventPublic",
    "SubmissionPublic",
    "TRAINING_FIELDS",
    "TeamCreate",
    "TeamJoin",
    "TeamMove",
    "TeamPrivate",
    "TeamPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "UserPublic",
    "ValidationReport",
    "WorkerPublic",
    "experiment_field",
]
