"""What a viewer may see of a submission: private scores, reports and logs.

Rules (server-side, for JSON routes and pages alike):
- organizers see everything, always;
- a team sees its own submissions (other teams' are 404 before reaching here);
- private scores and private reports stay hidden from participants until the phase ends;
- logs are shown to the team only when the phase says so (`show_logs`); otherwise the team
  sees the failure category and message only (logs on hidden data leak the data).
"""

from __future__ import annotations

from datetime import datetime

from api.models import Phase, Submission, User
from api.schemas import SubmissionPublic

__all__ = ["can_see_logs", "can_see_private", "submission_view", "visible_splits"]


def can_see_private(user: User | None, phase: Phase, now: datetime) -> bool:
    return (user is not None and user.is_organizer) or phase.has_ended(now)


def can_see_logs(user: User, phase: Phase) -> bool:
    return user.is_organizer or phase.show_logs


def visible_splits(user: User, phase: Phase, now: datetime) -> tuple[str, ...]:
    return ("public", "private") if can_see_private(user, phase, now) else ("public",)


def submission_view(submission: Submission, user: User, now: datetime) -> SubmissionPublic:
    view = SubmissionPublic.model_validate(submission)
    if not can_see_private(user, submission.phase, now):
        view = view.model_copy(
            update={"private_score": None, "private_ci_low": None, "private_ci_high": None}
        )
    return view
