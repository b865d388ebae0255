"""What a viewer may see of a submission: private scores, reports and logs.

Rules (server-side, for JSON routes and pages alike):
- organizers see everything, always;
- a team sees its own submissions (other teams' are 404 before reaching here);
- private scores and private reports stay hidden from participants until the phase ends;
- logs are shown to the team only when the phase says so (`show_logs`); otherwise the team
  sees the failure category and message only (logs on hidden data leak the data);
- a failure on the private split shows the team its category only: its message (exception
  text, status-file text, a too_slow's run and retrain times) and its logs are text the
  submission wrote while it held the private forget set.
"""

from __future__ import annotations

from datetime import datetime

from api.schemas import SubmissionPublic
from competition.models import Phase, Submission, User

__all__ = [
    "PRIVATE_FAILURE_MESSAGE",
    "can_see_logs",
    "can_see_private",
    "failure_text_hidden",
    "submission_view",
    "visible_splits",
]

PRIVATE_FAILURE_MESSAGE = (
    "failed on the private split ({category}); its details stay hidden because the "
    "submission wrote them while it held the private forget set"
)


def can_see_private(user: User | None, phase: Phase, now: datetime) -> bool:
    return (user is not None and user.is_organizer) or phase.has_ended(now)


def failure_text_hidden(user: User, submission: Submission) -> bool:
    return not user.is_organizer and submission.failure_split == "private"


def can_see_logs(user: User, submission: Submission) -> bool:
    if failure_text_hidden(user, submission):
        return False
    return user.is_organizer or submission.phase.show_logs


def visible_splits(user: User, phase: Phase, now: datetime) -> tuple[str, ...]:
    return ("public", "private") if can_see_private(user, phase, now) else ("public",)


def submission_view(submission: Submission, user: User, now: datetime) -> SubmissionPublic:
    view = SubmissionPublic.model_validate(submission)
    if failure_text_hidden(user, submission):
        category = submission.failure_category.value if submission.failure_category else "failed"
        view = view.model_copy(
            update={"failure_message": PRIVATE_FAILURE_MESSAGE.format(category=category)}
        )
    if not can_see_private(user, submission.phase, now):
        view = view.model_copy(
            update={"private_score": None, "private_ci_low": None, "private_ci_high": None}
        )
    return view
