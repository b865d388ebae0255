"""`unlearn submit --wait` follows an evaluation with the numbers of the web page's progress:
it draws runs done out of N while a worker advances the submission, then prints the scores."""

from __future__ import annotations

import threading
import time

import pytest
import typer

from competition import lifecycle
from tests.api.factories import VALID_SOURCE, report
from unlearn import participant
from worker import leases


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_follow_draws_progress_until_scored(live_server, world, session, client, capsys):
    sub_id = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()["id"]
    config = participant.ServerConfig(url=live_server.url, token=world.alice.token)
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            participant._follow(config, sub_id, poll_seconds=0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    seen = []

    def wait_for(text: str) -> None:
        # Each step waits until the follower has drawn the previous one.
        deadline = time.monotonic() + 20
        while text not in "".join(seen) and time.monotonic() < deadline:
            seen.append(capsys.readouterr().out)
            time.sleep(0.02)
        assert text in "".join(seen), "".join(seen)

    follower = threading.Thread(target=follow)
    follower.start()
    wait_for("queued: waiting for the phase's reference models (pending)")
    lifecycle.start_sanity_check(session, submission_id=sub_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=sub_id, attempt=1, passed=True)
    wait_for("running: running the unlearning function")
    plan = [("public", [0, 1, 2, 3]), ("public", [4, 5, 6, 7]), ("private", list(range(8)))]
    leases.begin_attempt(
        session, submission_id=sub_id, attempt=1, shards=plan, holder="w1", lease_s=60
    )
    for shard in range(3):
        leases.finish_shard(
            session, submission_id=sub_id, attempt=1, shard=shard, output_key="k", seconds=4.0
        )
    lifecycle.start_scoring(session, submission_id=sub_id, attempt=1)
    wait_for("scoring: scoring against the retrained models")
    for split in ("public", "private"):
        lifecycle.record_result(
            session, submission_id=sub_id, attempt=1, split=split, report=report(0.42)
        )
    follower.join(timeout=30)
    assert not follower.is_alive() and errors == []
    out = "".join(seen) + capsys.readouterr().out
    assert "8/8" in out and "public split" in out and "private split" not in out
    assert "finished" in out and "0.4200 [0.4000, 0.4400]" in out


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_follow_exits_refused_when_the_submission_fails(live_server, world, session, client):
    sub_id = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()["id"]
    client.post(f"/api/v1/submissions/{sub_id}/cancel", headers=world.alice.headers)
    config = participant.ServerConfig(url=live_server.url, token=world.alice.token)
    with pytest.raises(typer.Exit) as stopped:
        participant._follow(config, sub_id, poll_seconds=0.05)
    assert stopped.value.exit_code == participant.EXIT_REFUSED
