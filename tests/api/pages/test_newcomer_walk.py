"""A newcomer's first hour, in a real headless Chromium against a real worker.

From the home page to a score: sign up from the phase page, download the phase's starting
kit (its files checked), run the dry-run command the page quotes in the unzipped folder,
upload through the browser a submission that prints and then raises, read on its page the
traceback (the submission's own file and line) with its printed output and whether the
failure cost a quota slot, upload the fix, wait for the score and read the report.

Nothing is played: the server is the deployment's app (`unlearn.server.create_app`, its
Celery queue on the embedded SQLite broker) under uvicorn, and one `celery worker` process
with the real harness backend and the local sandbox prepares the phase and evaluates both
uploads. The phase is tiny (MNIST-1D, N = 4, one epoch) so the walk takes about a minute.

Every page visited is checked with axe-core at desktop (1280x800) and phone (390x844) sizes;
serious or critical violations fail the test. Each step's screenshot goes to the test's tmp
folder; with UNLEARN_UPDATE_SCREENSHOTS=1 they are copied to docs/screenshots/ (quantised to
a small palette), where docs/web.md shows them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from competition import db
from competition.models import Phase
from competition.settings import PipelineSettings
from tests.api.conftest import LiveServer
from tests.api.pages.test_browser import browser  # noqa: F401 - the fixture
from tests.api.pages.test_browser_walk import AXE, DOCS, Walk, small_png
from tests.worker.factories import Pipeline
from tests.worker.services import child_env, worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # kombu's SQLAlchemy transport declares a `noload` relationship, deprecated in SQLAlchemy 2.1
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

SECRET = "newcomer-walk-secret-key-for-tests"
DESKTOP, PHONE = (1280, 800), (390, 844)
# What a person must never read on a participant's page.
STATE_SLUGS = ("sanity_check", "sanity_check_failed", "queued", "received", "validated")
RAW_JSON = re.compile(r'[{\[]\s*"\w+"\s*:')

BROKEN = """\
\"\"\"My first try: a few steps of fine-tuning on the retain set.\"\"\"

import torch


def unlearning(net, retain_loader, forget_loader, val_loader):
    print("fine-tuning on", len(retain_loader), "retain batches")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    net.train()
    for inputs, targets in retain_loader:
        loss = torch.nn.functional.cross_entropy(net(inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
"""
BROKEN_LINE = 11  # `target` is not defined: a NameError on the first batch
FIXED = BROKEN.replace("net(inputs), target)", "net(inputs), targets)")


class NewcomerWalk(Walk):
    """The walk's browser, with an axe pass at both sizes per page and small screenshots."""

    def __init__(self, driver, url: str, out: Path) -> None:
        super().__init__(driver, url, out)
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        self.problems: list[str] = []
        # What waits for the worker's work; a page that reloads itself (for the report) leaves
        # the element read a moment before stale.
        self.worker_wait = WebDriverWait(
            driver, 150, ignored_exceptions=(StaleElementReferenceException,)
        )
        driver.set_window_size(*DESKTOP)

    def until_worker(self, element_id: str, text: str) -> None:
        self.worker_wait.until(
            lambda _: text in self.text_of(element_id), f"#{element_id} never read {text!r}"
        )

    def check(self, page: str) -> None:
        """axe at desktop and phone sizes; what a participant reads carries no internals."""
        if AXE.exists():
            for size in (DESKTOP, PHONE):
                self.driver.set_window_size(*size)
                self.problems += self.axe(f"{page} at {size[0]}x{size[1]}")
            self.driver.set_window_size(*DESKTOP)
        text = self.driver.find_element("tag name", "main").text
        for slug in STATE_SLUGS:
            assert not re.search(rf"\b{slug}\b", text), f"{page} shows the state slug {slug!r}"
        assert not RAW_JSON.search(text), f"{page} shows raw JSON"
        host = urlsplit(self.url).netloc
        assert host not in self.driver.page_source, f"{page} names the host {host}"

    def shot(self, name: str) -> None:
        super().shot(name)
        self.driver.set_window_size(*DESKTOP)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[LiveServer, Pipeline, int]]:
    """The server and one worker on a fresh data folder with one open, tiny phase."""
    from unlearn.server import create_app

    data = tmp_path / "data"
    data.mkdir()
    env = {
        "UNLEARN_DATA_DIR": str(data),
        "UNLEARN_ENVIRONMENT": "test",
        "UNLEARN_SECRET_KEY": SECRET,
        "UNLEARN_SANDBOX": "local",
        "UNLEARN_SHARD_SIZE": "4",
        "UNLEARN_LEASE_S": "20",
        "UNLEARN_HEARTBEAT_S": "5",
    }
    settings = PipelineSettings(
        data_dir=data,
        environment="test",
        secret_key=SECRET,
        rate_limit_enabled=False,
        leaderboard_cache_seconds=0.0,
    )
    db.upgrade_to_head(settings.resolved_database_url)
    app = create_app(settings)
    pipeline = Pipeline(data_dir=data, sessions=app.state.sessionmaker, store=app.state.store)
    phase_id = pipeline.mnist1d_phase(replicas=4, name="Spring warm-up", prepared=False)
    with pipeline.sessions() as session:
        phase = session.get(Phase, phase_id)
        phase.daily_quota = 3
        phase.description = (
            "Make a small MLP **forget** 2% of its training set. Start from the starting kit."
        )
        session.commit()
    app.state.queue.prepare_phase(phase_id)  # as creating it from the form does
    process = worker(child_env(env), name="walk-worker", log_dir=tmp_path)
    try:
        with LiveServer(app) as server:
            yield server, pipeline, phase_id
    finally:
        process.stop()
        app.state.queue.app.close()
        app.state.engine.dispose()


def _download(driver, folder: Path, click) -> Path:
    """Click a download link and wait for the finished file in `folder`."""
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.zip") if not p.name.endswith(".crdownload")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no download in {folder}: {list(folder.iterdir())}")


def test_newcomer_goes_from_home_page_to_a_score(browser, site, tmp_path):  # noqa: F811, PLR0915
    from selenium.webdriver.common.by import By

    server, pipeline, phase_id = site
    walk = NewcomerWalk(browser, server.url, tmp_path)

    # Home: one open phase; the newcomer opens it and signs up from there.
    walk.go("/")
    walk.check("/")
    walk.shot("walk-01-home")
    walk.el(f"phase-{phase_id}").click()
    assert "forget" in walk.text_of("description")
    walk.check("/phases/ID as a visitor")
    walk.el("signup-to-take-part").click()
    walk.type("email", "nia@example.org")
    walk.type("display_name", "Nia")
    walk.type("password", "nia's long password")
    walk.type("team_name", "First Timers")
    assert not walk.el("join_code").is_displayed()  # only the chosen way to a team shows
    walk.check("/register")
    walk.shot("walk-02-register")
    walk.el("register-submit").click()

    # Back on the phase page, signed in: the kit, its commands, the quota.
    assert urlsplit(browser.current_url).path == f"/phases/{phase_id}"
    walk.until_worker("preparation-state", "Ready")  # the worker prepared the reference models
    assert "3 of 3 submissions left today" in walk.text_of("quota-left")
    walk.check("/phases/ID")
    walk.shot("walk-03-phase-page")
    dry_run = walk.text_of("dry-run-command").split()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    kit_zip = _download(browser, downloads, walk.el("kit-download").click)
    folder = f"unlearning-kit-phase-{phase_id}"
    assert kit_zip.name == f"{folder}.zip"
    with zipfile.ZipFile(kit_zip) as kit:
        names = set(kit.namelist())
        for member in ("README.md", "phase.json", "submission.py", "starting_kit/README.md",
                       "starting_kit/baselines/finetune.py",
                       "unlearning-harness/pyproject.toml"):  # fmt: skip
            assert f"{folder}/{member}" in names, member
        kit.extractall(tmp_path)

    # The dry-run command, as quoted, in the unzipped folder (this test's environment stands
    # in for the kit's .venv): it evaluates the kit's submission.py on the development split.
    assert dry_run[:3] == [".venv/bin/unlearn", "dry-run", "submission.py"]
    unlearn = str(Path(sys.executable).with_name("unlearn"))
    run = subprocess.run(
        [unlearn, *dry_run[1:]],
        cwd=tmp_path / folder,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / folder / "runs/dry-run/report.json").read_text())
    assert report["replicas"] == 4 and "final_score" in report, report.keys()

    # The upload form; a submission that prints, then fails on its first batch.
    walk.el("submit-link").click()
    walk.check("/phases/ID/submit")
    broken = tmp_path / "submission.py"
    broken.write_text(BROKEN)
    walk.el("file").send_keys(str(broken))
    walk.shot("walk-04-upload")
    walk.el("submit-button").click()
    walk.until_text("flash", "Submitted")
    failed_id = int(urlsplit(browser.current_url).path.rsplit("/", 1)[1])
    walk.until_worker("status", "failed")
    browser.refresh()  # the traceback is drawn with the page
    walk.shot("walk-05-failure")
    failure = walk.text_of("failure")
    assert "NameError" in failure and "target" in failure
    assert "exception:" not in failure  # the error category's code name
    assert "Charged" in walk.text_of("quota-charge")
    assert "Left today: 2 of 3." in walk.text_of("quota-charge")
    logs = walk.text_of("logs")
    assert f'File "submission.py", line {BROKEN_LINE}, in unlearning' in logs
    assert "fine-tuning on" in logs  # what it printed before it failed
    assert "harness/" not in logs and "/tmp" not in logs  # only the submission's own files
    walk.check("/submissions/ID failed")
    browser.set_window_size(*PHONE)
    walk.shot("walk-05b-failure-phone")
    walk.go(f"/phases/{phase_id}")
    assert "2 of 3 submissions left today" in walk.text_of("quota-left")

    # The fix: the same file with the name corrected; the page follows it to a score.
    walk.el("submit-link").click()
    fixed = tmp_path / "fixed" / "submission.py"
    fixed.parent.mkdir()
    fixed.write_text(FIXED)
    walk.el("file").send_keys(str(fixed))
    walk.el("submit-button").click()
    walk.until_text("flash", "Submitted")
    scored_id = int(urlsplit(browser.current_url).path.rsplit("/", 1)[1])
    assert scored_id != failed_id
    walk.check("/submissions/ID in progress")
    walk.shot("walk-06-progress")
    walk.until_worker("status", "finished")
    walk.el("report-public")
    rows = {
        row.find_element(By.TAG_NAME, "th").text: row.text
        for row in walk.el("report-public").find_elements(By.CSS_SELECTOR, "tbody tr")
    }
    assert re.search(r"\d\.\d{4} 95% interval \[\d\.\d{4}, \d\.\d{4}\]", rows["Final score"]), rows
    assert "Forget quality" in " ".join(rows)
    assert "How to read this report" in walk.text_of("reading-public")
    assert re.search(r"\d\.\d{4}", walk.text_of("public-score"))
    assert "Left today: 1 of 3." in walk.text_of("quota-charge")
    walk.check("/submissions/ID scored")
    walk.shot("walk-07-score")
    walk.go(f"/phases/{phase_id}")
    assert "First Timers" in walk.text_of("phase-leaderboard")
    walk.check("/phases/ID with a score")
    walk.el("nav-submissions").click()
    walk.check("/submissions")
    walk.shot("walk-08-my-submissions")
    assert len(walk.shots) == 9

    if os.environ.get("UNLEARN_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for path in walk.shots:
            small_png(path)
            (DOCS / path.name).write_bytes(path.read_bytes())

    if not AXE.exists():
        pytest.skip(f"no axe-core at {AXE}: run `npm install --no-save axe-core` in the repo")
    assert walk.problems == []
