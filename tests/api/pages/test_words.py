"""What a participant reads: words, not the code's names; the phase's name; no host name."""

from __future__ import annotations

import html
import re

from api.pages import words
from competition import lifecycle
from competition.models import FailureCategory, SubmissionStatus
from tests.api.factories import VALID_SOURCE, finish
from tests.api.pages.test_pages import login

# The names that are not English words (the others, like "failed", read as themselves).
SLUGS = [v for v in [*SubmissionStatus, *FailureCategory] if "_" in v] + [
    "neurips2023",
    "kaggle2023",
    "retrain-timing",
    "reference-eval",
]
WORKER = "vm-host-7:1673"


def visible_text(page: str) -> str:
    """The page as a person reads it: no scripts or data blocks, no tags or attributes."""
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def upload(client, world) -> int:
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_every_state_and_category_has_words():
    for status in SubmissionStatus:
        assert "_" not in words.status_words(status)
    for category in FailureCategory:
        assert words.failure_words(category) != category.value
    assert words.status_words("new_state") == "new state"  # unknown: readable, not raw


def test_participant_pages_speak_words_not_slugs_or_hosts(client, world, session):
    failed = upload(client, world)
    lifecycle.start_sanity_check(session, submission_id=failed, worker=WORKER)
    lifecycle.record_sanity_check(
        session, submission_id=failed, attempt=1, passed=False, message="KeyError: 'x'"
    )
    scored = upload(client, world)
    finish(session, scored, public=0.5, private=0.4)
    login(client, world.alice.email)
    pages = {
        "phase": client.get(f"/phases/{world.phase_id}").text,
        "list": client.get("/submissions").text,
        "failed": client.get(f"/submissions/{failed}").text,
        "scored": client.get(f"/submissions/{scored}").text,
        "submit": client.get(f"/phases/{world.phase_id}/submit").text,
        "home": client.get("/").text,
    }
    # The control: the slugs are in the pages' words data block (app.js reads it) ...
    assert "sanity_check_failed" in pages["failed"]
    for name, page in pages.items():
        text = visible_text(page)
        for slug in SLUGS:  # ... but never in what a person reads.
            assert slug not in text, (name, slug)
        assert WORKER not in page and "vm-host" not in page, name
        for internal in ("Failure none", "Attempt 1", "– →", "tuple interface", "Dev split seed"):
            assert internal not in text, (name, internal)
        assert '{"error"' not in text, name
    failed_text = visible_text(pages["failed"])
    assert "The short sanity check failed: KeyError: 'x'" in failed_text
    assert "Sanity check started (one short run)" in failed_text
    assert "No report: the evaluation stopped before scoring." in failed_text
    assert "No report yet" not in failed_text and "No logs yet" not in failed_text
    # The list names the phase, not its number.
    assert f'<a href="/phases/{world.phase_id}">dev</a>' in pages["list"]
    assert "(inputs, targets) pairs" in visible_text(pages["phase"])


def test_organizers_read_the_stored_notes_too(client, world, session):
    sub_id = upload(client, world)
    lifecycle.start_sanity_check(session, submission_id=sub_id, worker=WORKER)
    login(client, world.organizer.email)
    page = client.get(f"/submissions/{sub_id}").text
    assert f"Sanity check started (one short run) · worker {WORKER}" in visible_text(page)
