"""Refusals of the data layer, shared by the server and the workers.

CrudError            a request the data forbids; `code` names the kind in error bodies
|-- NotFound         no such row
|-- Conflict         the row's state forbids it (illegal transition, duplicate name, ...)
|-- QuotaExceeded    the team's daily quota for the phase is spent
|-- TooManyInFlight  the team has the phase's maximum of submissions in evaluation
|-- PhaseClosed      outside the phase's submission window
|-- PhaseUnavailable the phase's reference models could not be prepared (organizers told)
`-- StaleAttempt     a worker reported on an attempt that is no longer current
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CrudError",
    "NotFound",
    "PhaseClosed",
    "PhaseUnavailable",
    "QuotaExceeded",
    "StaleAttempt",
    "TooManyInFlight",
]


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


class PhaseUnavailable(CrudError):
    code = "phase_unavailable"


class StaleAttempt(CrudError):
    """A worker reported on an attempt that is no longer current (fenced off)."""

    code = "stale_attempt"
