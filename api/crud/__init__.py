"""The server's reads and writes of the database, split by job; routes call `crud.<verb>`.

    accounts.py     users, teams, join codes, API tokens
    phases.py       create, edit, list phases
    submissions.py  upload, list, cancel, final pick, rescore, disqualify
    console.py      what the organizer's console reads
    snapshots.py    private leaderboards frozen at a phase's end, refrozen by organizers
    progress.py     runs done out of N, elapsed and time left of an evaluation

Loading a phase or submission, the quota and the errors live in `competition`, shared with
the workers, whose status changes are `competition.lifecycle`. Each mutating function
commits its own unit of work.
"""

from api.crud.accounts import (
    authenticate,
    change_password,
    create_team,
    create_token,
    create_user,
    join_team,
    leave_team,
    list_teams,
    list_tokens,
    list_users,
    move_to_team,
    revoke_token,
    revoke_token_by_plaintext,
    team_members,
    user_for_token,
)
from api.crud.console import failures_by_category, list_workers, status_overview, still_running
from api.crud.phases import (
    archive_phase,
    create_phase,
    delete_phase,
    list_phases,
    phase_readiness,
    phase_secrets,
    prepare_again,
    submission_count,
    update_phase,
)
from api.crud.progress import submission_progress
from api.crud.snapshots import private_board, refreeze, snapshot_history
from api.crud.submissions import (
    cancel_submission,
    create_submission,
    disqualify,
    list_submissions,
    reinstate,
    rescore,
    results_for,
    select_final,
)
from competition.errors import (
    Conflict,
    CrudError,
    NotFound,
    PhaseClosed,
    PhaseUnavailable,
    QuotaExceeded,
    StaleAttempt,
    TooManyInFlight,
)
from competition.quota import quota_used
from competition.records import get_phase, get_submission

__all__ = [
    "Conflict",
    "CrudError",
    "NotFound",
    "PhaseClosed",
    "PhaseUnavailable",
    "QuotaExceeded",
    "StaleAttempt",
    "TooManyInFlight",
    "archive_phase",
    "authenticate",
    "change_password",
    "cancel_submission",
    "create_phase",
    "create_submission",
    "create_team",
    "create_token",
    "create_user",
    "delete_phase",
    "disqualify",
    "failures_by_category",
    "get_phase",
    "get_submission",
    "join_team",
    "leave_team",
    "list_phases",
    "list_submissions",
    "list_teams",
    "list_tokens",
    "list_users",
    "list_workers",
    "move_to_team",
    "phase_secrets",
    "phase_readiness",
    "prepare_again",
    "submission_count",
    "private_board",
    "quota_used",
    "refreeze",
    "reinstate",
    "rescore",
    "results_for",
    "revoke_token",
    "revoke_token_by_plaintext",
    "select_final",
    "snapshot_history",
    "status_overview",
    "still_running",
    "submission_progress",
    "team_members",
    "update_phase",
    "user_for_token",
]
