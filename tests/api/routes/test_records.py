"""`GET /submissions/{id}/record`: the public record for the team, the private one after the end.

Records are stored as the scoring worker stores them (`worker.record.store_record`, signed
with the app's secret key) and downloaded records pass `unlearn verify`'s checks with that
key. Before the end a team's request for the private record is refused with the same
answer whether or not one exists (control: the organizer gets it).
"""

from __future__ import annotations

from datetime import timedelta

from competition.models import Phase, utcnow
from harness.report.record import read_record, record_key
from harness.report.verify import passed, verify_record
from tests.api.factories import finish
from tests.api.routes.test_submissions import upload
from tests.record_factory import synthetic_record
from worker.record import store_record


def _scored(client, world, session, app, *, private_record: bool = True) -> int:  # type: ignore[no-untyped-def]
    sub_id = upload(client, world.alice, world.phase_id).json()["id"]
    finish(session, sub_id, public=0.5, private=0.4)
    for split in ("public", "private") if private_record else ("public",):
        store_record(
            app.state.store,
            synthetic_record(split=split),
            secret_key=app.state.settings.secret_key,
            submission_sha256="f" * 64,
            submission_id=sub_id,
            attempt=1,
            split=split,
        )
    return int(sub_id)


def _get(client, sub_id: int, member, split: str):  # type: ignore[no-untyped-def]
    return client.get(
        f"/api/v1/submissions/{sub_id}/record", params={"split": split}, headers=member.headers
    )


def test_the_team_downloads_its_public_record_and_it_verifies(client, world, session, app):  # type: ignore[no-untyped-def]
    sub_id = _scored(client, world, session, app)
    response = _get(client, sub_id, world.alice, "public")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    checks = verify_record(response.content, key=record_key(app.state.settings.secret_key))
    assert passed(checks) and checks[1].verdict == "pass", checks
    manifest = read_record(response.content).manifest
    assert manifest["split"]["name"] == "public"
    assert manifest["submission"] == {"sha256": "f" * 64, "id": sub_id, "attempt": 1}
    assert _get(client, sub_id, world.carol, "public").status_code == 404  # another team


def test_the_private_record_is_hidden_from_the_team_until_the_end(client, world, session, app):  # type: ignore[no-untyped-def]
    with_private = _scored(client, world, session, app)
    without = _scored(client, world, session, app, private_record=False)
    first, second = (
        _get(client, with_private, world.alice, "private"),
        _get(client, without, world.alice, "private"),
    )
    assert first.status_code == second.status_code == 404
    assert first.json() == second.json()  # whether a private record exists is no observable
    assert b"PK" not in first.content
    organizer = _get(client, with_private, world.organizer, "private")  # the control
    assert organizer.status_code == 200
    assert read_record(organizer.content).manifest["split"]["name"] == "private"

    phase = session.get(Phase, world.phase_id)
    phase.starts_at, phase.ends_at = utcnow() - timedelta(days=3), utcnow() - timedelta(minutes=1)
    session.commit()
    after = _get(client, with_private, world.alice, "private")
    assert after.status_code == 200 and after.content == organizer.content
    missing = _get(client, without, world.alice, "private")
    assert missing.status_code == 404 and "not scored" in missing.json()["error"]["message"]
