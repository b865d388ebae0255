"""Hole 4: nothing can be chosen after the deadline, and the final ranking is frozen.

The exploit: once the phase ends, private scores are shown; a participant reads them and
makes the submission with the best private score their final pick (or uploads again).
Both must be refused. The private board is stored once at the end; a later rescore
changes it only through an organizer's refreeze, which the history records. Controls:
the same pick before the end succeeds, and an organizer's refreeze does change the board.
"""

from __future__ import annotations

from datetime import timedelta

from competition.models import utcnow
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
    ended = {"ends_at": (utcnow() - timedelta(minutes=1)).isoformat()}
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
    frozen = _private_board(client, world.phase_id)
    assert frozen["snapshot_version"] == 1 and frozen["frozen_at"] is not None
    assert [row["team_name"] for row in frozen["rows"]] == ["Team B", "Team A"]
    # An organizer rescores a1 after the end and its new private score is better.
    rescored = client.post(f"/api/v1/submissions/{a1}/rescore", headers=world.organizer.headers)
    assert rescored.status_code == 200
    finish(session, a1, public=0.5, private=0.99)
    # Still the frozen ranking:
    assert _private_board(client, world.phase_id)["rows"] == frozen["rows"]
    history_url = f"/api/v1/phases/{world.phase_id}/leaderboard/history"
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
