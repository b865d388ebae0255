"""The pages in a real headless Chromium (Debian's chromium + chromedriver, via selenium):
log in, upload, see the submission and its state change live, see the leaderboard."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from competition import lifecycle
from tests.api.factories import PASSWORD, VALID_SOURCE, report

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_browser_login_upload_status_and_leaderboard(
    browser, live_server, world, session, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(f"{live_server.url}/login?next=/")
    browser.find_element(By.ID, "email").send_keys(world.alice.email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, f"submit-{world.phase_id}"))).click()

    source = tmp_path / "submission.py"
    source.write_bytes(VALID_SOURCE)
    wait.until(ec.presence_of_element_located((By.ID, "file"))).send_keys(str(source))
    browser.find_element(By.ID, "submit-button").click()
    status = wait.until(ec.presence_of_element_located((By.ID, "status")))
    assert status.text == "waiting in the queue"
    submission_id = int(urlsplit(browser.current_url).path.rsplit("/", 1)[1])

    # A worker finishes it; the open page updates itself by polling, without a reload.
    lifecycle.start_sanity_check(session, submission_id=submission_id, worker="w1")
    lifecycle.record_sanity_check(session, submission_id=submission_id, attempt=1, passed=True)
    lifecycle.start_scoring(session, submission_id=submission_id, attempt=1)
    lifecycle.record_result(
        session, submission_id=submission_id, attempt=1, split="public", report=report(0.42)
    )
    lifecycle.record_result(
        session, submission_id=submission_id, attempt=1, split="private", report=report(0.4)
    )
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "finished"))

    browser.find_element(By.ID, "nav-submissions").click()
    row = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-id="{submission_id}"]'))
    )
    assert "finished" in row.text and "0.4200" in row.text

    browser.get(f"{live_server.url}/phases/{world.phase_id}/leaderboard")
    board = wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#leaderboard tr[data-submission="{submission_id}"]')
        )
    )
    assert "Team A" in board.text and "0.4200" in board.text
    assert "[0.4000, 0.4400]" in board.text
