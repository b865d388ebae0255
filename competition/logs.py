"""Structured logs: JSON lines for operators, and one event per submission state change.

`configure(fmt)` sets the root logger's handler: `json` writes one JSON object per line
(`ts`, `level`, `logger`, `message`, plus any structured fields), `text` the usual lines.
The API (`unlearn.server.create_app`) and Celery workers (`worker.celery_app`) call it with
`UNLEARN_LOG_FORMAT`; compose sets `json`.

State changes: every `SubmissionEvent` row (`competition.models.transition`, creation, disqualify)
is logged once its transaction commits, on logger `unlearn.events`, with `event`,
`submission_id`, `attempt`, `from_status`, `to_status` and `note`: a rolled-back move is
never logged, and a committed one is logged by whichever process made it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from competition.models import SubmissionEvent

__all__ = ["EVENTS", "JsonFormatter", "configure"]

EVENTS = logging.getLogger("unlearn.events")
_PENDING = "unlearn_pending_events"
# Attributes every LogRecord has; anything else was passed in `extra` and is structured data.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `extra` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Route the root logger to stderr in `fmt` ("json" or "text")."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        # Their own handlers would print a second, unstructured line.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: object) -> None:
    # Read the values now: after the commit the rows are expired and no SQL may run.
    for row in session.new:
        if isinstance(row, SubmissionEvent):
            session.info.setdefault(_PENDING, []).append(
                {
                    "event": "submission.state",
                    "submission_id": row.submission_id,
                    "attempt": row.attempt,
                    "from_status": row.from_status.value if row.from_status else None,
                    "to_status": row.to_status.value,
                    "note": row.note[:500],
                }
            )


@event.listens_for(Session, "after_commit")
def _emit(session: Session) -> None:
    for fields in session.info.pop(_PENDING, []):
        EVENTS.info(
            "submission %s attempt %s: %s -> %s",
            fields["submission_id"],
            fields["attempt"],
            fields["from_status"],
            fields["to_status"],
            extra=fields,
        )


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
