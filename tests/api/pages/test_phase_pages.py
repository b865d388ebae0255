"""The phase page, the submission page's progress and report, and deleting or archiving a
phase (the phase form itself: test_phase_form.py)."""

from __future__ import annotations

from competition import lifecycle, preparation
from competition.models import Phase
from tests.api.factories import VALID_SOURCE, finish
from tests.api.pages.test_pages import login, logout
from worker import leases


def upload(client, world, member=None):
    member = member or world.alice
    response = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=member.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_phase_page_renders_sanitised_markdown_rules_and_command(client, world, session):
    client.app.state.settings.public_url = "https://comp.example"
    phase = session.get(Phase, world.phase_id)
    phase.description = "## Goal\n\nForget **15 subjects**.<script>alert(1)</script>"
    session.commit()
    page = client.get(f"/phases/{world.phase_id}")
    assert page.status_code == 200
    assert "<h2>Goal</h2>" in page.text and "<strong>15 subjects</strong>" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert ".venv/bin/unlearn dry-run submission.py --phase-file phase.json" in page.text
    assert f'href="/phases/{world.phase_id}/starting-kit.zip"' in page.text
    assert "N = 8 runs" in page.text and "20% of the time of one retraining" in page.text
    assert 'id="quota-left"' not in page.text  # anonymous viewers have no quota


def test_phase_page_shows_my_submissions_and_quota_left(client, world, session):
    sub_id = upload(client, world)
    finish(session, sub_id, public=0.53912, private=0.4)
    login(client, world.alice.email)
    page = client.get(f"/phases/{world.phase_id}")
    assert "<strong>2</strong> of 3 submissions left today" in page.text
    assert f'<tr data-id="{sub_id}">' in page.text and "0.5391" in page.text
    assert "0.53912" not in page.text


def test_progress_counts_runs_done_per_split_and_hides_private(client, world, session):
    sub_id = upload(client, world)
    queued = client.get(f"/api/v1/submissions/{sub_id}/progress", headers=world.alice.headers)
    assert queued.json()["stage"] == "waiting for the phase's reference models (pending)"
    lifecycle.start_sanity_check(session, submission_id=sub_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=sub_id, attempt=1, passed=True)
    plan = [("public", [0, 1, 2, 3]), ("public", [4, 5, 6, 7]), ("private", list(range(8)))]
    leases.begin_attempt(
        session, submission_id=sub_id, attempt=1, shards=plan, holder="w1", lease_s=60
    )
    leases.finish_shard(
        session, submission_id=sub_id, attempt=1, shard=0, output_key="k", seconds=40.0
    )
    leases.claim_shard(session, submission_id=sub_id, attempt=1, shard=1, holder="w1", lease_s=60)
    leases.record_seeds_done(session, submission_id=sub_id, attempt=1, shard=1, done=2)
    team = client.get(f"/api/v1/submissions/{sub_id}/progress", headers=world.alice.headers)
    body = team.json()
    assert body["status"] == "running" and body["stage"] == "running the unlearning function"
    assert body["splits"] == [{"split": "public", "runs_done": 6, "runs_total": 8}]
    # 10 s per run, 2 public runs left: no private run enters a team's figure.
    assert body["remaining_s"] == 20.0
    organizer = client.get(
        f"/api/v1/submissions/{sub_id}/progress", headers=world.organizer.headers
    ).json()
    assert [s["split"] for s in organizer["splits"]] == ["public", "private"]
    assert organizer["remaining_s"] == 100.0  # organizers: the private runs too
    login(client, world.alice.email)
    page = client.get(f"/submissions/{sub_id}")
    assert 'id="runs-public">6 of 8 runs<' in page.text and "runs-private" not in page.text
    assert 'id="cancel"' in page.text


def test_submission_page_formats_report_and_disqualification(client, world, session):
    sub_id = upload(client, world)
    finish(session, sub_id, public=0.0539, private=0.05, half_width=0.0087)
    login(client, world.alice.email)
    page = client.get(f"/submissions/{sub_id}")
    assert "0.0539 [0.0452, 0.0626]" in page.text
    assert "Noise floor" in page.text and "0.2000" in page.text
    assert "unlearned 90% vs retrained 90%" in page.text
    assert 'id="make-final"' in page.text and 'id="cancel"' not in page.text
    # A reading of the figures, and the raw report as a download rather than inline JSON.
    reading = page.text.split('id="reading-public"')[1].split("</details>")[0]
    assert "the score can be" in reading and "above 1" in reading
    assert "noise floor" in reading and "0.2000" in reading
    assert "<pre" not in page.text and '"forget_quality":' not in page.text
    assert f'href="/api/v1/submissions/{sub_id}/results" download=' in page.text
    response = client.post(
        f"/api/v1/submissions/{sub_id}/disqualify",
        json={"reason": "copied another team's code"},
        headers=world.organizer.headers,
    )
    assert response.status_code == 200 and response.json()["disqualified_reason"]
    page = client.get(f"/submissions/{sub_id}")
    assert 'id="disqualified"' in page.text and "copied another team&#39;s code" in page.text
    assert 'id="make-final"' not in page.text
    assert "disqualified" in client.get("/submissions").text
    assert "disqualified" in client.get(f"/phases/{world.phase_id}").text
    undo = client.post(f"/api/v1/submissions/{sub_id}/reinstate", headers=world.organizer.headers)
    assert undo.status_code == 200 and undo.json()["disqualified"] is False
    assert 'id="make-final"' in client.get(f"/submissions/{sub_id}").text


def test_phase_delete_refused_with_submissions_and_archive_hides(client, world, session):
    upload(client, world)
    login(client, world.organizer.email)
    refused = client.post(f"/admin/phases/{world.phase_id}/delete")
    assert refused.status_code == 409 and "archive it instead" in refused.text
    client.post(f"/admin/phases/{world.phase_id}/archive")
    refused = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    assert refused.status_code == 403 and "archived" in refused.json()["error"]["message"]
    assert logout(client).status_code == 303
    assert f"/phases/{world.phase_id}/leaderboard" not in client.get("/").text
    login(client, world.organizer.email)
    client.post("/admin/phases/new", data={
        "name": "empty", "dataset": "mnist1d", "model": "mlp", "replicas": "4",
        "estimator": "neurips2023", "starts_at": "2026-01-01 00:00", "ends_at": "2027-01-01 00:00",
    })  # fmt: skip
    empty_id = session.query(Phase).filter_by(name="empty").one().id
    assert client.post(f"/admin/phases/{empty_id}/delete").status_code == 200
    session.expire_all()
    assert session.get(Phase, empty_id) is None


def test_phase_page_says_a_phase_cannot_run_and_organizers_see_why(client, world, session):
    login(client, world.alice.email)
    page = client.get(f"/phases/{world.phase_id}").text
    assert "Waiting for a worker" in page and 'id="submit-link"' in page
    assert preparation.claim(
        session, phase_id=world.phase_id, split="private", holder="w1", lease_s=60
    )
    preparation.fail(
        session, phase_id=world.phase_id, split="private", holder="w1", error="OSError: disk full"
    )
    page = client.get(f"/phases/{world.phase_id}").text
    assert "This phase cannot run" in page and 'id="submit-link"' not in page
    assert "disk full" not in page and 'id="prepare-again"' not in page  # organizers only
    login(client, world.organizer.email)
    page = client.get(f"/phases/{world.phase_id}").text
    assert "private: OSError: disk full" in page and 'id="prepare-again"' in page
    console = client.get("/admin").text
    assert f'id="prep-state-{world.phase_id}">could not be prepared<' in console


def test_phase_page_puts_the_overview_first_for_participants(client, world):
    def order(page: str) -> bool:
        return page.index('<section id="overview"') < page.index('<section id="preparation"')

    assert order(client.get(f"/phases/{world.phase_id}").text)  # anonymous visitor
    login(client, world.organizer.email)
    assert not order(client.get(f"/phases/{world.phase_id}").text)  # organizers: readiness first


def test_a_visitor_is_asked_to_sign_up_and_comes_back_to_the_phase(client, world):
    page = client.get(f"/phases/{world.phase_id}").text
    assert f'href="/register?next=/phases/{world.phase_id}" id="signup-to-take-part"' in page
    login(client, world.alice.email)
    assert 'id="signup-to-take-part"' not in client.get(f"/phases/{world.phase_id}").text


def test_submission_page_says_whether_a_failure_was_charged_and_what_is_left(
    client, world, session
):
    sub_id = upload(client, world)
    lifecycle.start_sanity_check(session, submission_id=sub_id, worker="w1")
    lifecycle.record_sanity_check(
        session, submission_id=sub_id, attempt=1, passed=False, message="unlearning() raised"
    )
    login(client, world.alice.email)
    page = client.get(f"/submissions/{sub_id}").text
    assert "Charged: one of your team's 3 submissions for its day (UTC)" in page
    assert "Left today: 2 of 3." in page
    logout(client)
    login(client, world.organizer.email)  # the organizer has no quota of their own
    assert "Left today" not in client.get(f"/submissions/{sub_id}").text
