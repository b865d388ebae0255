"""Typed errors of the harness, split by who can act on them.

    HarnessError
    ├── SubmissionError          text shown verbatim to the participant; has a `category`
    │   ├── InvalidSubmission    the file does not define a usable unlearning()
    │   ├── SubmissionCrashed    unlearning() raised; carries the participant's own frames
    │   ├── TimeLimitExceeded    a run outlived its wall-clock budget
    │   ├── OutOfMemory          a run exceeded its memory limit
    │   └── BadOutput            the weights left behind are unusable (NaN, wrong shapes, ...)
    ├── ConfigError              an organizer's setting or dataset is wrong: says what to fix
    │   └── DatasetNotFound
    └── InfraRetry               a transient failure of ours: retry the step, refund the quota

Anything else that escapes is an internal error: participants see a fixed message and the
traceback goes to the log.
"""

from __future__ import annotations

__all__ = [
    "BadOutput",
    "ConfigError",
    "DatasetNotFound",
    "HarnessError",
    "InfraRetry",
    "InvalidSubmission",
    "OutOfMemory",
    "SubmissionCrashed",
    "SubmissionError",
    "TimeLimitExceeded",
    "INTERNAL_ERROR_MESSAGE",
]

INTERNAL_ERROR_MESSAGE = (
    "An internal error occurred while evaluating; the organizers have been notified."
)


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class SubmissionError(HarnessError):
    """A failure caused by the submission. `str(error)` is safe to show to its author."""

    category = "submission_error"

    def __init__(self, message: str, *, log_excerpt: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.log_excerpt = log_excerpt


class InvalidSubmission(SubmissionError):
    category = "invalid_submission"


class SubmissionCrashed(SubmissionError):
    category = "exception"


class TimeLimitExceeded(SubmissionError):
    category = "timeout"


class OutOfMemory(SubmissionError):
    category = "out_of_memory"


class BadOutput(SubmissionError):
    category = "invalid_output"


class ConfigError(HarnessError):
    """An organizer-side problem: a missing dataset, an impossible split, a bad setting."""


class DatasetNotFound(ConfigError):
    pass


class InfraRetry(HarnessError):
    """A transient failure of the harness itself; the step may be retried."""
