"""Hole 4: nothing can be chosen after the deadline, and the final ranking is frozen.

The exploit: once the phase ends, private scores are shown; a participant reads them and
makes the submission with the best private score their final pick (or uploads again).
Both must be refused. The private board is stored once at the end; a later rescore
changes it only through an organizer's refreeze, which the history records. Controls:
the same pick before the end succeeds, and an organizer's refreeze does change the board.
"""

from __future__ import annotations

from competition.models import utcnow
from competition.snapshots import freeze_ended
from tests.api.factories import VALID_SOURCE, finish


def _upload(client, member, phase_id: int) -> int:
    response = client.post(
        f"/api/v1/phases/{phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _end_phase(client, world) -> None:
    ended = {"ends_at": utcnow().isoformat()}  # now: after every result stored so far
    response = client.patch(
        f"/api/v1/phases/{world.phase_id}", json=ended, headers=world.organizer.headers
    )
    assert response.status_code == 200, response.text


def _scored_world(client, world, session) -> tuple[int, int, int]:
    """Alice: a1 (best public, poor private) and a2 (the reverse); Carol: c1 in between."""
    a1, a2, c1 = (_upload(client, m, world.phase_id) for m in (world.alice, world.bob, world.carol))
    finish(session, a1, public=0.5, private=0.2)
    finish(session, a2, public=0.4, private=0.9)
    finish(session, c1, public=0.45, private=0.5)
    return a1, a2, c1


def _private_board(client, phase_id: int = 1):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/phases/{phase_id}/leaderboard?split=private")
    assert response.status_code == 200, response.text
    return response.json()


def test_final_pick_after_seeing_private_scores_is_refused(client, world, session):
    _a1, a2, _c1 = _scored_world(client, world, session)
    _end_phase(client, world)
    seen = client.get(f"/api/v1/submissions/{a2}", headers=world.alice.headers).json()
    assert seen["private_score"] == 0.9  # shown now that the phase is over
    picked = client.post(f"/api/v1/submissions/{a2}/final", headers=world.alice.headers)
    assert picked.status_code == 403 and picked.json()["error"]["code"] == "phase_closed"
    late = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
        headers=world.alice.headers,
    )
    assert late.status_code == 403 and late.json()["error"]["code"] == "phase_closed"
    board = _private_board(client, world.phase_id)
    assert [row["team_name"] for row in board["rows"]] == ["Team B", "Team A"]


def test_final_pick_before_the_end_is_accepted(client, world, session):
    # Control: the very same request succeeds while the phase is open.
    _a1, a2, _c1 = _scored_world(client, world, session)
    picked = client.post(f"/api/v1/submissions/{a2}/final", headers=world.alice.headers)
    assert picked.status_code == 200 and picked.json()["is_final"] is True
    _end_phase(client, world)
    assert _private_board(client, world.phase_id)["rows"][0]["team_name"] == "Team A"


def test_private_board_is_frozen_and_changed_only_by_an_organizer(client, world, session):
    a1, _a2, _c1 = _scored_world(client, world, session)
    _end_phase(client, world)
    history_url = f"/api/v1/phases/{world.phase_id}/leaderboard/history"
    # Read before the scheduled freeze: the board as of the end, and no reader freezes it.
    early = _private_board(client, world.phase_id)
    assert early["snapshot_version"] is None and client.get(history_url).json() == []
    assert freeze_ended(session) == [world.phase_id]  # the worker's beat task
    assert freeze_ended(session) == []  # once
    frozen = _private_board(client, world.phase_id)
    assert frozen["snapshot_version"] == 1 and frozen["frozen_at"] is not None
    assert frozen["rows"] == early["rows"]
    assert [row["team_name"] for row in frozen["rows"]] == ["Team B", "Team A"]
    # An organizer rescores a1 after the end and its new private score is better.
    rescored = client.post(f"/api/v1/submissions/{a1}/rescore", headers=world.organizer.headers)
    assert rescored.status_code == 200
    finish(session, a1, public=0.5, private=0.99)
    # Still the frozen ranking:
    assert _private_board(client, world.phase_id)["rows"] == frozen["rows"]
    assert len(client.get(history_url).json()) == 1
    # Only an organizer refreezes it, with a reason, as a new recorded version.
    url = f"/api/v1/phases/{world.phase_id}/leaderboard/refreeze"
    body = {"reason": "rescore of submission 1 after a scorer fix"}
    assert client.post(url, json=body, headers=world.alice.headers).status_code == 403
    refrozen = client.post(url, json=body, headers=world.organizer.headers)
    assert refrozen.status_code == 200, refrozen.text
    assert refrozen.json()["snapshot_version"] == 2
    rows = _private_board(client, world.phase_id)["rows"]
    assert [row["team_name"] for row in rows] == ["Team A", "Team B"]
    history = client.get(history_url).json()
    assert [(h["version"], h["created_by"]) for h in history] == [
        (1, None),
        (2, world.organizer.user_id),
    ]
    assert history[1]["reason"] == body["reason"]


def test_refreeze_before_the_end_is_refused(client, world):
    url = f"/api/v1/phases/{world.phase_id}/leaderboard/refreeze"
    response = client.post(url, json={"reason": "x"}, headers=world.organizer.headers)
    assert response.status_code == 409


def test_cancel_after_the_end_is_refused(client, world, session):
    # The exploit: after the end the team sees its private scores, then cancels the
    # in-flight submission that would otherwise be its default pick.
    _scored_world(client, world, session)
    pending = _upload(client, world.alice, world.phase_id)
    _end_phase(client, world)
    response = client.post(f"/api/v1/submissions/{pending}/cancel", headers=world.alice.headers)
    assert response.status_code == 403, response.text
    assert "ended" in response.json()["error"]["message"]


def test_cancel_before_the_end_is_accepted(client, world):
    # Control: the same cancel before the end goes through.
    pending = _upload(client, world.alice, world.phase_id)
    response = client.post(f"/api/v1/submissions/{pending}/cancel", headers=world.alice.headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_the_frozen_board_holds_only_results_stored_by_the_end(client, world, session):
    # A result stored after the end (an evaluation that ran late) does not enter version 1,
    # however late the freeze runs: the board is the one as of the end, for everyone.
    _scored_world(client, world, session)
    late = _upload(client, world.alice, world.phase_id)
    _end_phase(client, world)
    finish(session, late, public=0.1, private=0.99)
    response = client.post(f"/api/v1/submissions/{late}/final", headers=world.alice.headers)
    assert response.status_code == 403  # and no pick after the end
    freeze_ended(session)
    rows = _private_board(client, world.phase_id)["rows"]
    assert late not in [row["submission_id"] for row in rows]
