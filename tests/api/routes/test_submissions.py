"""Submissions through HTTP: upload, validation errors, quotas (also under concurrency),
hostile files, the permission matrix, visibility of private scores and logs, cancel, final
selection, and the organizer's rescore and disqualify."""

from __future__ import annotations

import concurrent.futures
import stat
import zipfile
from datetime import timedelta

import httpx
import pytest

from api import crud
from competition import lifecycle
from competition.models import Role, SubmissionStatus, User, utcnow
from tests.api.factories import VALID_SOURCE, add_team, add_user, finish, make_zip

pytestmark = []


def upload(client, member, phase_id, data=VALID_SOURCE, name="submission.py"):
    return client.post(
        f"/api/v1/phases/{phase_id}/submissions",
        headers=member.headers,
        files={"file": (name, data, "application/octet-stream")},
    )


def test_upload_py_is_stored_queued_and_enqueued_after_commit(client, world, queue, app):
    response = upload(client, world.alice, world.phase_id)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["kind"] == "py"
    assert queue.enqueued == [body["id"]]
    assert queue.violations == []
    code = client.get(f"/api/v1/submissions/{body['id']}/code", headers=world.alice.headers)
    assert code.content == VALID_SOURCE
    events = client.get(f"/api/v1/submissions/{body['id']}/events", headers=world.bob.headers)
    assert [(e["from_status"], e["to_status"]) for e in events.json()] == [
        (None, "received"),
        ("received", "validated"),
        ("validated", "queued"),
    ]


def test_upload_zip_with_helper_module_is_accepted(client, world):
    data = make_zip({"submission.py": VALID_SOURCE, "helpers/util.py": b"X = 1\n"})
    response = upload(client, world.alice, world.phase_id, data, "bundle.zip")
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "zip"


def test_upload_syntax_error_reports_line_and_spends_no_quota(client, world):
    source = b"def unlearning(net, retain_loader, forget_loader, val_loader):\n    return (\n"
    response = upload(client, world.alice, world.phase_id, source)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_submission"
    assert error["details"][0]["file"] == "submission.py"
    assert error["details"][0]["line"] == 2
    quota = client.get(f"/api/v1/phases/{world.phase_id}/quota", headers=world.alice.headers)
    assert quota.json()["used"] == 0


def test_upload_wrong_signature_reports_line(client, world):
    source = b"import torch\n\n\ndef unlearning(net, loader):\n    pass\n"
    response = upload(client, world.alice, world.phase_id, source)
    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert detail["line"] == 4
    assert "4" in detail["message"]


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        (
            "evil.zip",
            make_zip({"submission.py": VALID_SOURCE, "../escape.py": b"x=1"}),
            "unsafe path",
        ),
        (
            "evil.zip",
            make_zip({"submission.py": VALID_SOURCE, "/etc/cron.py": b"x=1"}),
            "unsafe path",
        ),
        ("evil.zip", make_zip({"submission.py": VALID_SOURCE, "c:\\x.py": b"x=1"}), "unsafe path"),
        (
            "bomb.zip",
            make_zip({"submission.py": VALID_SOURCE, "zeros.bin": b"\0" * 200_000}),
            "ratio",
        ),
        (
            "many.zip",
            make_zip({"submission.py": VALID_SOURCE, **{f"m{i}.py": b"" for i in range(250)}}),
            "entries",
        ),
        (  # the worker could not stage it: `helpers` is a file and a folder
            "clash.zip",
            make_zip({"submission.py": VALID_SOURCE, "helpers": b"", "helpers/x.py": b"x=1"}),
            "needs it to be a folder",
        ),
        (  # extracted over the checked submission.py
            "shadow.zip",
            make_zip({"submission.py": VALID_SOURCE, "./submission.py": b"x = 1"}),
            "empty component",
        ),
        ("fake.zip", b"PK\x03\x04 this is not a zip", "not a readable zip"),
        ("nested.zip", make_zip({"pkg/submission.py": VALID_SOURCE}), "zip the folder's contents"),
        ("binary.py", b"\x00\x01\x02", "NUL"),
        ("latin1.py", "def unlearning(a, b, c, d):\n    x = 'é'\n".encode("latin-1"), "UTF-8"),
        ("notes.txt", b"hello", "must be a .py file"),
        ("empty.py", b"", "empty"),
    ],
)
def test_upload_hostile_or_malformed_is_rejected(client, world, name, data, fragment):
    response = upload(client, world.alice, world.phase_id, data, name)
    assert response.status_code == 422, response.text
    assert fragment in response.text
    listing = client.get("/api/v1/submissions", headers=world.alice.headers).json()
    assert listing["count"] == 0


def test_upload_symlink_in_zip_is_rejected(client, world):
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("submission.py", VALID_SOURCE)
        link = zipfile.ZipInfo("data.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    response = upload(client, world.alice, world.phase_id, buffer.getvalue(), "link.zip")
    assert response.status_code == 422
    assert "symbolic links" in response.text


def test_upload_over_size_limit_is_413(client, world, settings):
    data = VALID_SOURCE + b"#" * (settings.max_upload_bytes + 1)
    response = upload(client, world.alice, world.phase_id, data)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_upload_quota_is_enforced_per_team(client, world):
    for _ in range(3):  # daily_quota is 3 for Team A (alice and bob share it)
        assert upload(client, world.alice, world.phase_id).status_code == 201
    refused = upload(client, world.bob, world.phase_id)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert upload(client, world.carol, world.phase_id).status_code == 201  # other team


def test_upload_refused_when_phase_closed(client, world, session):
    from tests.api.factories import add_phase

    now = utcnow()
    closed = add_phase(
        session,
        name="old",
        starts_at=(now - timedelta(days=9)).isoformat(),
        ends_at=(now - timedelta(days=1)).isoformat(),
    )
    response = upload(client, world.alice, closed.id)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "phase_closed"


def test_upload_needs_login_and_participant(client, world):
    assert (
        upload(client, type(world.alice)(0, "", None, "ul_wrong"), world.phase_id).status_code
        == 401
    )
    anonymous = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert anonymous.status_code == 401
    assert upload(client, world.organizer, world.phase_id).status_code == 403


def test_upload_to_missing_phase_is_404(client, world):
    assert upload(client, world.alice, 999).status_code == 404


def test_validate_only_spends_nothing(client, world):
    response = client.post(
        "/api/v1/submissions/validate",
        headers=world.alice.headers,
        files={"file": ("submission.py", b"def unlearning(a):\n  pass\n")},
    )
    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["problems"][0]["line"] == 1
    good = client.post(
        "/api/v1/submissions/validate",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert good.json()["valid"] is True
    assert client.get("/api/v1/submissions", headers=world.alice.headers).json()["count"] == 0


NEEDS_ITS_DEVICE = b"def unlearning(net, retain, forget, val, device):\n    pass\n"


def test_a_required_device_parameter_is_accepted_where_the_phases_interface_fills_it(
    client, world, session
):
    """A 2023 notebook's `unlearning(..., device)`: the kaggle2023 interface fills it, so the
    upload is taken; under the tuple interface (filling nothing) it is refused, quota kept."""
    phase = crud.get_phase(session, world.phase_id)
    assert phase.config.interface == "tuple"
    refused = upload(client, world.alice, world.phase_id, NEEDS_ITS_DEVICE)
    assert refused.status_code == 422 and "device=None" in refused.text
    checked = client.post(
        f"/api/v1/submissions/validate?phase_id={world.phase_id}",
        headers=world.alice.headers,
        files={"file": ("submission.py", NEEDS_ITS_DEVICE)},
    )
    assert checked.json()["valid"] is False
    phase.config = phase.config.with_(interface="kaggle2023")
    session.commit()
    checked = client.post(
        f"/api/v1/submissions/validate?phase_id={world.phase_id}",
        headers=world.alice.headers,
        files={"file": ("submission.py", NEEDS_ITS_DEVICE)},
    )
    assert checked.json()["valid"] is True, checked.text
    taken = upload(client, world.alice, world.phase_id, NEEDS_ITS_DEVICE)
    assert taken.status_code == 201, taken.text


# Permission matrix ---------------------------------------------------------------------------

READ_ROUTES = ["", "/events", "/code", "/logs", "/results"]


@pytest.mark.parametrize("suffix", READ_ROUTES)
def test_submission_reads_follow_the_permission_matrix(client, world, suffix):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    url = f"/api/v1/submissions/{sub_id}{suffix}"
    assert client.get(url).status_code == 401  # anonymous
    assert client.get(url, headers=world.carol.headers).status_code == 404  # other team
    assert client.get(url, headers=world.bob.headers).status_code == 200  # same team
    assert client.get(url, headers=world.organizer.headers).status_code == 200


def test_submission_list_shows_only_own_team(client, world):
    upload(client, world.alice, world.phase_id)
    upload(client, world.carol, world.phase_id)
    mine = client.get("/api/v1/submissions", headers=world.bob.headers).json()
    assert mine["count"] == 1 and mine["data"][0]["team_id"] == world.alice.team_id
    # A participant cannot widen the filter to another team.
    other = client.get(
        f"/api/v1/submissions?team_id={world.carol.team_id}", headers=world.bob.headers
    ).json()
    assert {s["team_id"] for s in other["data"]} == {world.alice.team_id}
    everything = client.get("/api/v1/submissions", headers=world.organizer.headers).json()
    assert everything["count"] == 2


def test_submission_list_paginates(client, world):
    for _ in range(3):
        upload(client, world.alice, world.phase_id)
    page = client.get("/api/v1/submissions?limit=2&offset=0", headers=world.alice.headers).json()
    assert (page["count"], len(page["data"]), page["limit"]) == (3, 2, 2)
    rest = client.get("/api/v1/submissions?limit=2&offset=2", headers=world.alice.headers).json()
    assert len(rest["data"]) == 1
    assert {s["id"] for s in page["data"]}.isdisjoint({s["id"] for s in rest["data"]})


@pytest.mark.parametrize("action", ["rescore", "disqualify"])
def test_organizer_actions_are_refused_to_participants(client, world, session, action):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.5, private=0.4)
    url = f"/api/v1/submissions/{sub_id}/{action}"
    body = {"reason": "copied code"}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=world.alice.headers).status_code == 403
    assert client.post(url, json=body, headers=world.carol.headers).status_code == 403
    assert client.post(url, json=body, headers=world.organizer.headers).status_code == 200


def test_cancel_and_final_are_refused_to_other_teams(client, world, session):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    for action in ("cancel", "final"):
        response = client.post(
            f"/api/v1/submissions/{sub_id}/{action}", headers=world.carol.headers
        )
        assert response.status_code == 404


# Visibility ----------------------------------------------------------------------------------


def test_private_score_hidden_from_team_until_phase_ends(client, world, session):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.61, private=0.47)
    mine = client.get(f"/api/v1/submissions/{sub_id}", headers=world.alice.headers).json()
    assert mine["status"] == "finished"
    assert mine["public_score"] == pytest.approx(0.61)
    assert mine["private_score"] is None
    results = client.get(f"/api/v1/submissions/{sub_id}/results", headers=world.alice.headers)
    assert [r["split"] for r in results.json()] == ["public"]
    organizer = client.get(f"/api/v1/submissions/{sub_id}", headers=world.organizer.headers).json()
    assert organizer["private_score"] == pytest.approx(0.47)
    phase = crud.get_phase(session, world.phase_id)
    phase.ends_at = utcnow() - timedelta(seconds=1)
    phase.starts_at = utcnow() - timedelta(days=2)
    session.commit()
    after = client.get(f"/api/v1/submissions/{sub_id}", headers=world.alice.headers).json()
    assert after["private_score"] == pytest.approx(0.47)


def test_results_serve_the_report_in_its_one_shape(client, world, session):
    """`report` is the stored `EvaluationReport` as JSON; the keys docs/api.md names stay at
    its top level and agree with the result's own columns."""
    from harness.report.schema import EvaluationReport

    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.61, private=0.47)
    [public] = client.get(
        f"/api/v1/submissions/{sub_id}/results", headers=world.alice.headers
    ).json()
    report = public["report"]
    assert report == EvaluationReport.model_validate(report).to_json()
    assert report["final_score"] == public["score"] == pytest.approx(0.61)
    assert report["final_score_ci"] == [public["ci_low"], public["ci_high"]]
    assert report["forget_quality"] == public["forget_quality"]
    assert report["noise_floor"] == public["noise_floor"]
    assert report["estimator"] == public["estimator"]
    assert report["efficiency"]["passed"] is True and "accuracy" in report


def test_logs_hidden_when_phase_hides_them(client, world, session, app):
    phase = crud.get_phase(session, world.phase_id)
    phase.show_logs = False
    session.commit()
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    lifecycle.attach_logs(
        session, app.state.store, submission_id=sub_id, attempt=1, text="secret row 17"
    )
    lifecycle.mark_failed(
        session,
        submission_id=sub_id,
        attempt=1,
        category="exception",
        message="unlearning raised ValueError",
        system_error=False,
    )
    team = client.get(f"/api/v1/submissions/{sub_id}/logs", headers=world.alice.headers).json()
    assert team == {
        "submission_id": sub_id,
        "shown": False,
        "text": "",
        "failure_category": "exception",
    }
    organizer = client.get(f"/api/v1/submissions/{sub_id}/logs", headers=world.organizer.headers)
    assert organizer.json()["text"] == "secret row 17"


def test_report_plots_served_only_when_listed(client, world, session, app):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    key = f"submissions/{sub_id}/reports/attempt-1/epsilons.png"
    app.state.store.put_bytes(key, b"\x89PNG fake")
    finish(session, sub_id, public=0.5, private=0.4, plot_keys=(key,))
    results = client.get(
        f"/api/v1/submissions/{sub_id}/results", headers=world.alice.headers
    ).json()
    assert results[0]["plots"] == ["epsilons.png"]
    plot = client.get(
        f"/api/v1/submissions/{sub_id}/artifacts/epsilons.png", headers=world.alice.headers
    )
    assert plot.status_code == 200 and plot.content == b"\x89PNG fake"
    assert plot.headers["content-type"] == "image/png"
    missing = client.get(
        f"/api/v1/submissions/{sub_id}/artifacts/submission.py", headers=world.alice.headers
    )
    assert missing.status_code == 404
    other = client.get(
        f"/api/v1/submissions/{sub_id}/artifacts/epsilons.png", headers=world.carol.headers
    )
    assert other.status_code == 404


# Lifecycle actions ---------------------------------------------------------------------------


def test_cancel_before_running_refunds_quota(client, world):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    response = client.post(f"/api/v1/submissions/{sub_id}/cancel", headers=world.alice.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["counts_against_quota"] is False
    quota = client.get(f"/api/v1/phases/{world.phase_id}/quota", headers=world.alice.headers).json()
    assert quota["used"] == 0
    again = client.post(f"/api/v1/submissions/{sub_id}/cancel", headers=world.alice.headers)
    assert again.status_code == 409


def test_cancel_while_running_still_counts(client, world, session):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    lifecycle.start_sanity_check(session, submission_id=sub_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=sub_id, attempt=1, passed=True)
    response = client.post(f"/api/v1/submissions/{sub_id}/cancel", headers=world.alice.headers)
    assert response.json()["counts_against_quota"] is True


def test_final_selection_is_one_per_team(client, world, session):
    first = upload(client, world.alice, world.phase_id).json()["id"]
    second = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, first, public=0.5, private=0.4)
    finish(session, second, public=0.3, private=0.6)
    assert (
        client.post(f"/api/v1/submissions/{first}/final", headers=world.alice.headers).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/submissions/{second}/final", headers=world.bob.headers).status_code
        == 200
    )
    rows = client.get("/api/v1/submissions", headers=world.alice.headers).json()["data"]
    assert {s["id"]: s["is_final"] for s in rows} == {first: False, second: True}


def test_rescore_makes_a_new_attempt_not_a_new_submission(client, world, session, queue):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.5, private=0.4)
    response = client.post(f"/api/v1/submissions/{sub_id}/rescore", headers=world.organizer.headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempt"]) == ("queued", 2)
    assert queue.enqueued == [sub_id, sub_id]
    listing = client.get("/api/v1/submissions", headers=world.organizer.headers).json()
    assert listing["count"] == 1
    # still running: a second rescore is refused
    assert (
        client.post(
            f"/api/v1/submissions/{sub_id}/rescore", headers=world.organizer.headers
        ).status_code
        == 409
    )


def test_disqualify_removes_from_leaderboard(client, world, session):
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.5, private=0.4)
    board = client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()
    assert [r["submission_id"] for r in board["rows"]] == [sub_id]
    response = client.post(
        f"/api/v1/submissions/{sub_id}/disqualify",
        json={"reason": "hard-coded outputs"},
        headers=world.organizer.headers,
    )
    assert response.json()["disqualified"] is True
    assert client.get(f"/api/v1/phases/{world.phase_id}/leaderboard").json()["rows"] == []
    events = client.get(f"/api/v1/submissions/{sub_id}/events", headers=world.alice.headers).json()
    assert "hard-coded outputs" in events[-1]["note"]


# Concurrency ---------------------------------------------------------------------------------


def test_quota_holds_under_concurrent_uploads(live_server, world, session, queue):
    """12 parallel uploads from one team against a real server: exactly `daily_quota` pass."""
    team = add_team(session, "Racers")
    racers = [add_user(session, email=f"r{i}@example.org", team=team) for i in range(4)]

    def one(i: int) -> int:
        member = racers[i % len(racers)]
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            return http.post(
                f"/api/v1/phases/{world.phase_id}/submissions",
                headers=member.headers,
                files={"file": ("submission.py", VALID_SOURCE)},
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(one, range(12)))
    assert sorted(codes) == [201] * 3 + [429] * 9
    rows, total = crud.list_submissions(
        session, team_id=team.id, phase_id=None, status=None, limit=50, offset=0
    )
    assert total == 3
    assert (
        crud.quota_used(session, team_id=team.id, phase_id=world.phase_id, day=utcnow().date()) == 3
    )
    assert queue.violations == []


def _set_phase(client, world, **fields):  # type: ignore[no-untyped-def]
    response = client.patch(
        f"/api/v1/phases/{world.phase_id}", json=fields, headers=world.organizer.headers
    )
    assert response.status_code == 200, response.text


def test_in_flight_cap_refuses_uploads_until_one_ends(client, world, session):
    _set_phase(client, world, max_in_flight=2, daily_quota=10)
    ids = [upload(client, world.alice, world.phase_id).json()["id"] for _ in range(2)]
    refused = upload(client, world.bob, world.phase_id)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_in_flight"
    assert "already has 2 submissions being evaluated" in refused.json()["error"]["message"]
    used = crud.quota_used(
        session, team_id=world.alice.team_id, phase_id=world.phase_id, day=utcnow().date()
    )
    assert used == 2  # the refused upload was not charged
    assert upload(client, world.carol, world.phase_id).status_code == 201  # other team
    lifecycle.mark_failed(
        session,
        submission_id=ids[0],
        attempt=1,
        category="exception",
        message="x",
        system_error=False,
    )
    assert upload(client, world.bob, world.phase_id).status_code == 201
    _set_phase(client, world, max_in_flight=0)  # 0 lifts the cap
    assert upload(client, world.bob, world.phase_id).status_code == 201


def test_in_flight_cap_holds_under_concurrent_uploads(live_server, world, session, queue):
    """12 parallel uploads from one team, quota 12 but at most 2 in flight: exactly 2 pass."""
    phase = crud.get_phase(session, world.phase_id)
    phase.max_in_flight, phase.daily_quota = 2, 12
    session.commit()
    team = add_team(session, "Racers")
    racers = [add_user(session, email=f"r{i}@example.org", team=team) for i in range(4)]

    def one(i: int) -> tuple[int, str]:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            response = http.post(
                f"/api/v1/phases/{world.phase_id}/submissions",
                headers=racers[i % len(racers)].headers,
                files={"file": ("submission.py", VALID_SOURCE)},
            )
        code = response.json()["error"]["code"] if response.status_code != 201 else ""
        return response.status_code, code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(one, range(12)))
    assert sorted(outcomes) == [(201, "")] * 2 + [(429, "too_many_in_flight")] * 10
    assert (
        crud.quota_used(session, team_id=team.id, phase_id=world.phase_id, day=utcnow().date()) == 2
    )
    assert queue.violations == []


def test_system_failure_refund_allows_another_upload(client, world, session):
    ids = [upload(client, world.alice, world.phase_id).json()["id"] for _ in range(3)]
    assert upload(client, world.alice, world.phase_id).status_code == 429
    lifecycle.mark_failed(
        session,
        submission_id=ids[0],
        attempt=1,
        category="worker_lost",
        message="node died",
        system_error=True,
    )
    assert upload(client, world.alice, world.phase_id).status_code == 201
    lifecycle.mark_failed(
        session,
        submission_id=ids[1],
        attempt=1,
        category="exception",
        message="bug",
        system_error=False,
    )
    assert upload(client, world.alice, world.phase_id).status_code == 429


def test_organizer_role_enum_round_trips(session, world):
    user = session.get(User, world.organizer.user_id)
    assert user.role is Role.ORGANIZER
    assert SubmissionStatus("queued") is SubmissionStatus.QUEUED
