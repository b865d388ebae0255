"""Leaderboards through HTTP: ranking, ties, final selection, private visibility, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from api import crud
from competition.models import utcnow
from tests.api.factories import VALID_SOURCE, add_team, add_user, finish


def submit(client, member, phase_id) -> int:
    response = client.post(
        f"/api/v1/phases/{phase_id}/submissions",
        headers=member.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def scored(client, world, session):
    """Team A: two submissions (0.50 and 0.70 public); Team B: 0.70 later; Team C: 0.20."""
    a_low = submit(client, world.alice, world.phase_id)
    a_high = submit(client, world.alice, world.phase_id)
    b = submit(client, world.carol, world.phase_id)
    team_c = add_team(session, "Team C")
    dave = add_user(session, email="dave@example.org", team=team_c)
    c = submit(client, dave, world.phase_id)
    finish(session, a_low, public=0.50, private=0.90, half_width=0.01)
    finish(session, a_high, public=0.70, private=0.30, half_width=0.01)
    finish(session, b, public=0.70, private=0.60, half_width=0.05)
    finish(session, c, public=0.20, private=0.10, half_width=0.01)
    return {"a_low": a_low, "a_high": a_high, "b": b, "c": c}


def test_public_board_ranks_best_per_team_earlier_wins_ties(client, world, scored):
    board = client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()
    rows = [
        (r["rank"], r["team_name"], r["submission_id"], r["tied_with_above"]) for r in board["rows"]
    ]
    assert rows == [
        (1, "Team A", scored["a_high"], False),
        (2, "Team B", scored["b"], True),  # same score, later submission
        (3, "Team C", scored["c"], False),
    ]
    assert board["rows"][0]["ci_low"] == pytest.approx(0.69)
    assert [r["tie_group"] for r in board["rows"]] == [1, 1, 2]


def test_board_marks_rows_racing_stopped_with_their_n(client, world, session, scored):
    team_d = add_team(session, "Team D")
    erin = add_user(session, email="erin@example.org", team=team_d)
    d = submit(client, erin, world.phase_id)
    finish(session, d, public=0.10, private=0.10, stopped_at=32)
    board = client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()
    marks = {r["submission_id"]: r["provisional_runs"] for r in board["rows"]}
    assert marks == {scored["a_high"]: None, scored["b"]: None, scored["c"]: None, d: 32}
    exported = client.get(
        f"/api/v1/phases/{world.phase_id}/leaderboard/export?format=csv",
        headers=world.organizer.headers,
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["provisional_runs"] for r in rows] == ["", "", "", "32"]
    page = client.get(f"/phases/{world.phase_id}/leaderboard")
    assert page.status_code == 200 and "provisional, N=32" in page.text


def test_a_stopped_row_ranks_below_every_full_n_row_whatever_its_score(
    client, world, session, scored
):
    """Scores at small n run higher than at N (fewer models resolve less): a row racing
    stopped at 32 with 0.9 still ranks below the full-N rows at 0.7 and 0.1."""
    team_d = add_team(session, "Team D")
    erin = add_user(session, email="erin@example.org", team=team_d)
    d = submit(client, erin, world.phase_id)
    finish(session, d, public=0.9, private=0.9, stopped_at=32)
    board = client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()
    assert [r["submission_id"] for r in board["rows"]] == [
        scored["a_high"],
        scored["b"],
        scored["c"],
        d,
    ]
    assert [r["rank"] for r in board["rows"]] == [1, 2, 3, 4]


def test_private_board_hidden_from_participants_until_end(client, world, scored, session):
    url = f"/api/v1/phases/{world.phase_id}/leaderboard?split=private"
    assert client.get(url).status_code == 403
    assert client.get(url, headers=world.alice.headers).status_code == 403
    board = client.get(url, headers=world.organizer.headers).json()
    # default final pick is each team's best public submission
    assert [(r["team_name"], r["score"]) for r in board["rows"]] == [
        ("Team B", 0.6),
        ("Team A", 0.3),
        ("Team C", 0.1),
    ]
    phase = crud.get_phase(session, world.phase_id)
    phase.starts_at, phase.ends_at = utcnow() - timedelta(days=3), utcnow() - timedelta(minutes=1)
    session.commit()
    assert client.get(url).status_code == 200


def test_private_board_uses_team_final_selection(client, world, scored):
    chosen = client.post(f"/api/v1/submissions/{scored['a_low']}/final", headers=world.bob.headers)
    assert chosen.status_code == 200
    board = client.get(
        f"/api/v1/phases/{world.phase_id}/leaderboard?split=private",
        headers=world.organizer.headers,
    ).json()
    assert board["rows"][0]["submission_id"] == scored["a_low"]
    assert board["rows"][0]["score"] == pytest.approx(0.9)
    assert len(board["rows"]) == 3


def test_leaderboard_export_csv_and_json(client, world, scored):
    base = f"/api/v1/phases/{world.phase_id}/leaderboard/export"
    as_csv = client.get(base + "?format=csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["team_name"] for r in rows] == ["Team A", "Team B", "Team C"]
    assert rows[1]["tied_with_above"] == "True"
    as_json = client.get(base + "?format=json").json()
    assert [r["submission_id"] for r in as_json["rows"]] == [int(r["submission_id"]) for r in rows]
    assert client.get(base + "?split=private").status_code == 403


def test_leaderboard_skips_unscored_and_unknown_phase(client, world):
    submit(client, world.alice, world.phase_id)
    assert client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()["rows"] == []
    missing = client.get("/api/v1/phases/404/leaderboard")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
