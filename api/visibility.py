"""The one visibility policy: what a viewer may see of a submission, and when.

Every route, page, CLI view and export that carries anything of a submission builds it from
`sight(viewer, submission, now)` (the phase is the submission's): nothing reads the row's
status, failure, times, logs or private figures for a participant any other way. The route
walk in tests/integrity/test_route_walk.py requests every GET route of the app (read from the
OpenAPI schema and the page router) and checks the result, so a new route is covered without
anyone listing it.

Rules:
- organizers see everything, always;
- a team sees its own submissions (`can_see_submission`; other teams' are 404 before
  reaching here, `api.services.submissions.visible_submission`);
- nothing of the private split is observable by the team before the phase ends. An attempt
  runs the public split first and the private split only once the public result is stored
  (`worker.leases.stage`); from that moment the team's view is frozen at the public result:
  status `finished`, its time, its events, runs done of the public split only. Whatever the
  private runs then do (take long, fail, print) changes nothing the team can read until
  `ends_at`;
- after the end the team sees its private scores and reports, and a private failure as one
  outcome with its category ("the private evaluation did not complete"); never its text or
  logs, which the submission wrote while it held the private forget set;
- a failure of the sanity run (development split, published) or of the public split shows
  its message to the team; a sanity failure its logs too (traceback and output): that is
  where they debug; other logs are shown when the phase says so (`show_logs`), since a
  public run's output can carry the public split's hidden forget set;
- event notes never carry the worker's host or process to a team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.schemas import ProgressPublic, SubmissionEventPublic, SubmissionPublic
from competition.models import (
    FailureCategory,
    Phase,
    Submission,
    SubmissionStatus,
    User,
)

__all__ = [
    "PRIVATE_FAILURE_MESSAGE",
    "PRIVATE_PENDING_NOTE",
    "Sight",
    "can_see_private",
    "can_see_submission",
    "sight",
    "visible_splits",
]

S = SubmissionStatus

PRIVATE_FAILURE_MESSAGE = (
    "the private evaluation did not complete; its details stay hidden because the "
    "submission wrote them while it held the private forget set"
)
PRIVATE_PENDING_NOTE = "public result stored; the private result is shown when the phase ends"


def can_see_submission(user: User, submission: Submission) -> bool:
    """Whether `user` may see `submission` at all: organizers every one, a participant their
    own team's."""
    return user.is_organizer or (user.team_id is not None and user.team_id == submission.team_id)


def can_see_private(user: User | None, phase: Phase, now: datetime) -> bool:
    """Private scores, reports and runs: organizers always, everyone once the phase ended."""
    return (user is not None and user.is_organizer) or phase.has_ended(now)


def visible_splits(user: User | None, phase: Phase, now: datetime) -> tuple[str, ...]:
    return ("public", "private") if can_see_private(user, phase, now) else ("public",)


@dataclass(frozen=True)
class Sight:
    """One viewer's view of one submission at one time; every view below is built from it."""

    submission: Submission
    organizer: bool
    private_open: bool  # private figures, runs and failures may be shown
    frozen_at: datetime | None  # the team's view stops at the public result (private hidden)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("public", "private") if self.private_open else ("public",)

    @property
    def status(self) -> SubmissionStatus:
        return S.FINISHED if self.frozen_at is not None else self.submission.status

    @property
    def terminal(self) -> bool:
        return self.frozen_at is not None or self.submission.is_terminal

    @property
    def failure_category(self) -> FailureCategory | None:
        """Hidden while the view is frozen; a private failure's category (one of several
        outcomes the submission can choose) only once the phase ended."""
        if self.frozen_at is not None:
            return None
        if self.private_failure_hidden and not self.private_open:
            return None
        return self.submission.failure_category

    @property
    def failure_message(self) -> str:
        if self.frozen_at is not None:
            return ""
        if self.private_failure_hidden:
            category = self.failure_category
            return PRIVATE_FAILURE_MESSAGE + (f" ({category.value})" if category else "")
        return self.submission.failure_message

    @property
    def private_failure_hidden(self) -> bool:
        """A private failure's text and logs: never shown to a team."""
        return not self.organizer and self.submission.failure_split == "private"

    @property
    def updated_at(self) -> datetime:
        return self.frozen_at or self.submission.updated_at

    @property
    def logs(self) -> bool:
        """Whether the run logs (public and development runs only: private output is never
        stored) may be shown: organizers; the team when the phase shows logs, and always
        when its sanity run failed (the development split is published: its traceback and
        output are what the team needs to debug)."""
        if self.organizer:
            return True
        if self.private_failure_hidden and self.frozen_at is None:
            return False
        sanity_failed = self.submission.failure_category == FailureCategory.SANITY_CHECK_FAILED
        return self.submission.phase.show_logs or sanity_failed

    def submission_view(self) -> SubmissionPublic:
        view = SubmissionPublic.model_validate(self.submission)
        update: dict[str, object] = {
            "status": self.status,
            "failure_category": self.failure_category,
            "failure_message": self.failure_message,
            "updated_at": self.updated_at,
        }
        if not self.private_open:
            update |= {"private_score": None, "private_ci_low": None, "private_ci_high": None}
        return view.model_copy(update=update)

    def events_view(self) -> list[SubmissionEventPublic]:
        events = [SubmissionEventPublic.model_validate(e) for e in self.submission.events]
        if self.organizer:
            return events
        if self.frozen_at is not None:
            frozen = self.frozen_at
            before = [e for e in events if e.at <= frozen]
            # After the freeze only the organizers' annotations (disqualify, reinstate: an
            # event that changes no status), shown on the status the team sees.
            notes = [
                e.model_copy(update={"from_status": S.FINISHED, "to_status": S.FINISHED})
                for e in events
                if e.at > frozen and e.from_status == e.to_status
            ]
            finished = SubmissionEventPublic(
                from_status=before[-1].to_status if before else None,
                to_status=S.FINISHED,
                attempt=self.submission.attempt,
                note=PRIVATE_PENDING_NOTE,
                at=frozen,
            )
            events = [*before, finished, *notes]
        hidden = self.private_failure_hidden and not self.private_open
        return [
            e.model_copy(
                update={
                    "note": "the private evaluation did not complete"
                    if hidden and e.to_status == S.FAILED
                    else _team_note(e.note)
                }
            )
            for e in events
        ]

    def progress_view(self, live: ProgressPublic) -> ProgressPublic:
        """`live` (counted over `self.splits` by `crud.submission_progress`) as this viewer
        may see it: frozen at the public result, with no time that private runs move."""
        update: dict[str, object] = {
            "status": self.status,
            "terminal": self.terminal,
            "failure_category": self.failure_category,
            "failure_message": self.failure_message,
        }
        if self.frozen_at is not None:
            update |= {"stage": "finished", "remaining_s": None}
        return live.model_copy(update=update)


def sight(viewer: User | None, submission: Submission, now: datetime) -> Sight:
    """The policy: what `viewer` may see of `submission` at `now`."""
    organizer = viewer is not None and viewer.is_organizer
    private_open = can_see_private(viewer, submission.phase, now)
    frozen_at = None if private_open else submission.public_done_at
    return Sight(
        submission=submission,
        organizer=organizer,
        private_open=private_open,
        frozen_at=frozen_at,
    )


def _team_note(note: str) -> str:
    """Event notes name the worker that took a job ("worker host:pid"): not for teams."""
    if note.startswith("worker "):
        return note.split(";", 1)[1].strip() if ";" in note else ""
    return note
