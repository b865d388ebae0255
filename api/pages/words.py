"""Plain words for the names the code uses: submission states, failure categories, phase
and preparation states and stages, splits, batch interfaces, estimators, history lines.

The one place where a slug becomes what a participant reads. Templates call these as Jinja
globals and filters (registered in `api.pages.render`); `static/app.js` gets the same tables
as JSON (`client_words()`, a data block in `base.html`) for what it updates live. A slug
with no entry shows as itself with its underscores and dashes turned into spaces, so a new
state is readable before it has its words.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from competition.models import Phase
from harness.phase_schema import flat_fields

__all__ = [
    "FORGET_MODE",
    "NOTICES",
    "PREPARE_BUTTON",
    "RACING_RULE",
    "client_words",
    "estimator_words",
    "event_words",
    "failure_words",
    "interface_words",
    "phase_state_words",
    "sentence",
    "preparation_words",
    "phase_fields",
    "split_spec_words",
    "split_words",
    "stage_words",
    "status_words",
    "words",
]

STATUS = {
    "received": "received",
    "validated": "checked, waiting in the queue",
    "queued": "waiting in the queue",
    "sanity_check": "sanity check",
    "running": "running",
    "scoring": "scoring",
    "finished": "finished",
    "failed": "failed",
    "cancelled": "cancelled",
}

FAILURE = {
    "invalid_submission": "the file is not a valid submission",
    "sanity_check_failed": "the short sanity check failed",
    "exception": "your function raised an error",
    "timeout": "a run went over the time limit",
    "out_of_memory": "a run ran out of memory",
    "invalid_output": "the model it left cannot be scored (changed architecture, or NaN or "
    "infinite weights)",
    "too_slow": "slower than the phase's efficiency gate allows",
    "system": "a problem on our side",
    "scorer": "scoring failed on our side",
    "worker_lost": "the machine evaluating it stopped",
    "phase_unavailable": "the phase's reference models could not be prepared",
}

PHASE_STATE = {"archived": "archived", "upcoming": "opens soon", "open": "open", "ended": "ended"}

PREPARATION = {
    "pending": "waiting for a worker",
    "preparing": "being prepared",
    "ready": "ready",
    "failed": "could not be prepared",
}

# harness.reference.cache's stages, and the data step before them.
STAGE = {
    "data": "preparing the data",
    "original": "training the original model",
    "retrain-timing": "timing one retraining",
    "reference": "training the retrained models",
    "reference-eval": "evaluating the retrained models",
}

SPLIT = {"dev": "development", "public": "public", "private": "private"}

INTERFACE = {
    "tuple": "(inputs, targets) pairs, as in the CIFAR-10 starting kit",
    "kaggle2023": "dicts as in the 2023 Kaggle template (image, age_group, …)",
}

ESTIMATOR = {
    "neurips2023": "the NeurIPS 2023 rule",
    "calibrated": "calibrated (a perfect unlearner scores about 1)",
}

FORGET_MODE = {
    "random": "a random share of the training set",
    "classes": "whole classes",
    "groups": "whole groups (e.g. subjects)",
}

# harness.scoring.racing.RULES
RACING_RULE = {
    "both": "both bounds agree (sound when either holds; the default)",
    "equal_n": "other rows' bounds at the same number of runs",
    "full_n": "full-N rows' bounds at N",
    "predicted": "the predicted full-N score",
}

# The one button of a phase's preparation, by its state (None: no button while it runs).
PREPARE_BUTTON = {
    "pending": "Prepare the reference models",
    "failed": "Prepare again",
    "ready": "Train the reference models again",
}


def sentence(text: str) -> str:
    """First letter upper case, the rest as written ('NeurIPS' stays; Jinja's capitalize
    would lower it)."""
    return text[:1].upper() + text[1:]


def words(table: dict[str, str], slug: object) -> str:
    text = str(getattr(slug, "value", slug) or "")
    return table.get(text, re.sub(r"[_-]+", " ", text))


def status_words(status: object) -> str:
    return words(STATUS, status)


def failure_words(category: object) -> str:
    return words(FAILURE, category)


def phase_state_words(state: object) -> str:
    return words(PHASE_STATE, state)


def preparation_words(state: object) -> str:
    return words(PREPARATION, state)


def stage_words(stage: object) -> str:
    return words(STAGE, stage)


def split_words(split: object) -> str:
    return words(SPLIT, split)


def interface_words(interface: object) -> str:
    return words(INTERFACE, interface)


def estimator_words(estimator: object) -> str:
    return words(ESTIMATOR, estimator)


class _Event(Protocol):
    from_status: Any
    to_status: Any
    note: str | None


def event_words(event: _Event, *, organizer: bool) -> str:
    """One history line. Participants read what happened; organizers also read the stored
    note (which names the worker's host and process, a retry's reason)."""
    to = str(getattr(event.to_status, "value", event.to_status))
    before = str(getattr(event.from_status, "value", event.from_status or ""))
    note = event.note or ""
    if note.startswith("disqualified:"):
        return "Disqualified by the organizers: " + note.removeprefix("disqualified:").strip()
    if note.startswith("disqualification withdrawn"):
        return "Disqualification withdrawn by an organizer"
    if to == "received":
        text = "Uploaded"
    elif to == "validated":
        text = "Checked: it defines unlearning()"
    elif to == "queued" and note.startswith("rescore"):
        text = "Queued again: an organizer asked for a new evaluation"
    elif to == "queued" and note.startswith("system retry"):
        text = "Queued again after a problem on our side (not charged)"
    elif to == "queued" and before not in ("", "validated"):
        text = "Back in the queue"
    elif to == "running" and before == "sanity_check":
        text = "Sanity check passed; the runs started"
    elif to == "running":
        text = "The runs started"
    elif to == "sanity_check":
        text = "Sanity check started (one short run)"
    elif to == "failed" and note.startswith("system failure"):
        text = "Failed because of a problem on our side (refunded)"
    elif to == "cancelled":
        text = "Cancelled by the team" if "team" in note else "Cancelled"
    else:
        text = status_words(to).capitalize()
    return f"{text} · {note}" if organizer and note else text


def phase_fields(phase: Phase) -> dict[str, Any]:
    """A phase's experiment the short way the API's flat body writes it (`dataset`,
    `split_spec`, `recipe` as changes from the defaults, ...): what the phase page lists."""
    return flat_fields(phase.config)


def split_spec_words(spec: dict[str, Any]) -> list[str]:
    """A phase's split settings as phrases: '2% of the training set is forgotten', ..."""
    phrases = []
    for key, value in spec.items():
        if key == "forget_fraction" and isinstance(value, int | float):
            phrases.append(f"{100 * value:g}% of the training set is forgotten")
        elif key == "dev_seed":
            phrases.append(f"the development split you dry-run on is drawn with seed {value}")
        else:
            phrases.append(f"{re.sub(r'[_-]+', ' ', key)}: {value}")
    return phrases


# What a page says after a redirect (`?notice=<key>`): fixed texts, never the query's own.
NOTICES = {
    "phase-created": "Phase created. Its reference models are being prepared; this page "
    "follows them.",
    "phase-saved": "Changes saved.",
    "uploaded": "Submitted. Its evaluation starts when a worker is free; this page follows it.",
}


def client_words() -> dict[str, dict[str, str]]:
    """The tables `static/app.js` needs for what it updates without a reload."""
    return {
        "status": STATUS,
        "failure": FAILURE,
        "preparation": PREPARATION,
        "stage": STAGE,
        "split": SPLIT,
    }
