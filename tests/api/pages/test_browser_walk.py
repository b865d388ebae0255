"""A competition walked in a real headless Chromium, as its people would: an organizer and two
participants who sign up, form a team, create a phase (fixing a form error), upload, watch the
evaluation progress live to a score, read the report and logs, see the leaderboard, pick a
final submission, a disqualification, and the phase's end. A worker's part is played by the
same `competition.lifecycle` / `worker.leases` calls the workers make.

Screenshots of every step go to the test's tmp folder; with UNLEARN_UPDATE_SCREENSHOTS=1 the
main ones are copied to docs/screenshots/ (with a small palette). axe-core (`npm install
--no-save axe-core`, at node_modules/axe-core/axe.min.js or $AXE_CORE_JS) checks the main
pages for serious or critical accessibility violations.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from competition import lifecycle, preparation
from competition.models import Phase, utcnow
from harness.report.plots import _epsilon_histogram
from tests.api.factories import PASSWORD, VALID_SOURCE, report
from tests.api.pages.test_browser import browser  # noqa: F401 - the fixture
from worker import leases

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "screenshots"
AXE = Path(os.environ.get("AXE_CORE_JS", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
MAIN_SHOTS = {
    "01-register", "03-team", "05-phase-form-error", "06b-phase-preparing", "07-phase-page",
    "09-progress",
    "10-report", "11-leaderboard", "13-disqualified", "14-console", "16-phone-phase",
}  # fmt: skip
DESCRIPTION = """Make a small MLP **forget** 2% of its training set.

- Your function gets the trained model and loaders over *retain*, *forget* and *validation*.
- It is run N times; the score compares those models with models retrained without the forget set.
"""


class Walk:
    """The browser, a wait, and a numbered screenshot per step."""

    def __init__(self, driver, url: str, out: Path) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.url, self.out = driver, url, out
        self.wait = WebDriverWait(driver, 20)
        self.shots: list[Path] = []
        driver.set_window_size(1280, 1000)

    def go(self, path: str) -> None:
        self.driver.get(self.url + path)

    def el(self, element_id: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        return self.wait.until(ec.presence_of_element_located((By.ID, element_id)))

    def type(self, element_id: str, text: str) -> None:
        field = self.el(element_id)
        field.clear()
        field.send_keys(text)

    def choose(self, element_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.el(element_id)).select_by_value(value)

    def set_value(self, element_id: str, value: str) -> None:
        # A datetime-local input's typing order follows the browser's locale: set it whole.
        self.driver.execute_script("arguments[0].value = arguments[1]", self.el(element_id), value)

    def text_of(self, element_id: str) -> str:
        return self.el(element_id).text

    def until_text(self, element_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait.until(ec.text_to_be_present_in_element((By.ID, element_id), text))

    def shot(self, name: str) -> None:
        # The window's height includes the browser's own frame: add it, so the page fits whole.
        height = self.driver.execute_script(
            "return document.body.scrollHeight + window.outerHeight - window.innerHeight"
        )
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, min(max(height + 40, 600), 4000))
        path = self.out / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.logout()
        self.go("/login")
        self.type("email", email)
        self.type("password", password)
        self.el("login-submit").click()
        self.el("logout")

    def logout(self) -> None:
        self.driver.delete_all_cookies()

    def axe(self, page: str) -> list[str]:
        """Serious and critical axe-core violations of the current page, as text."""
        self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(done, e => done({error: String(e)}));"
        )
        assert "error" not in result, result
        return [
            f"{page}: {v['id']} ({v['impact']}): {v['help']} at {v['nodes'][0]['target']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]


def small_png(path: Path) -> None:
    """Rewrite a screenshot with a 64-colour palette: a page's flat colours survive, and the
    file is a quarter of the size or less (for docs/screenshots/)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


def _epsilon_png(tmp: Path) -> bytes:
    rng = np.random.default_rng(0)
    epsilons = np.r_[rng.gamma(2.0, 0.4, size=359), np.full(141, 50.0)]
    _epsilon_histogram(epsilons, tmp / "epsilons.png")
    return (tmp / "epsilons.png").read_bytes()


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_browser_walk_through_a_competition(browser, live_server, world, session, app, tmp_path):  # noqa: F811, PLR0915
    from selenium.webdriver.common.by import By

    walk = Walk(browser, live_server.url, tmp_path)
    store = app.state.store

    # Two participants sign up: the first starts a team, the second joins it by its code.
    walk.go("/register")
    walk.type("email", "ada@example.org")
    walk.type("display_name", "Ada")
    walk.type("password", "ada's long password")
    walk.type("team_name", "Forgetters")
    walk.shot("01-register")
    walk.el("register-submit").click()
    assert walk.text_of("team-name") == "Forgetters"
    code = walk.text_of("join-code")
    walk.shot("02-team-created")
    walk.logout()
    walk.go("/register")
    walk.type("email", "bo@example.org")
    walk.type("display_name", "Bo")
    walk.type("password", "bo's long password")
    walk.el("team-join").click()
    walk.type("join_code", code)
    walk.el("register-submit").click()
    walk.until_text("team-members", "Ada, Bo")
    walk.shot("03-team")

    # The organizer creates the phase in the form; N = 1 is refused beside its field.
    walk.login(world.organizer.email)
    walk.el("nav-admin").click()
    walk.el("new-phase").click()
    start = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=3, hours=5)).strftime("%Y-%m-%dT%H:%M")
    walk.set_value("f-starts_at", start)
    walk.set_value("f-ends_at", end)
    choices = {"f-dataset": "mnist1d", "f-model": "mlp", "f-estimator": "neurips2023"}
    for field, value in choices.items():
        walk.choose(field, value)
    for field, value in {
        "f-name": "Spring 2027", "f-split_forget_fraction": "0.02", "f-recipe_epochs": "3",
        "f-replicas": "1", "f-daily_quota": "3",
    }.items():  # fmt: skip
        walk.type(field, value)
    walk.type("f-description", DESCRIPTION)
    walk.el("f-show_logs").click()
    walk.shot("04-phase-form")
    walk.el("phase-save").click()
    assert walk.text_of("f-replicas-error") == "Runs N must be at least 2."
    assert "1 problem to fix" in walk.text_of("form-errors")
    walk.shot("05-phase-form-error")
    walk.type("f-replicas", "8")
    walk.el("phase-save").click()
    assert walk.text_of("phase-state") == "open"
    phase_id = int(urlsplit(browser.current_url).path.rsplit("/", 1)[1])
    assert "Phase created." in walk.text_of("flash")
    assert "Waiting for a worker" in walk.text_of("preparation-state")
    walk.shot("06-phase-created")

    # The workers prepare its reference models (their calls played here); the page follows,
    # and says so when the phase is ready.
    for split in lifecycle.SPLITS:
        holder = f"worker-1/{split}"
        assert preparation.claim(
            session, phase_id=phase_id, split=split, holder=holder, lease_s=600
        )
        progress = ("reference", 3, 8)
        preparation.renew(
            session, phase_id=phase_id, split=split, holder=holder, lease_s=600, progress=progress
        )
    walk.until_text("prep-public", "being prepared · training the retrained models, step 3 of 8")
    walk.shot("06b-phase-preparing")
    for split in lifecycle.SPLITS:
        preparation.finish(
            session, phase_id=phase_id, split=split, holder=f"worker-1/{split}", retrain_seconds=2.0
        )
    walk.until_text("preparation-state", "Ready")

    # Ada reads the phase page: description, rules, countdown, the dry-run command.
    walk.login("ada@example.org", "ada's long password")
    walk.go(f"/phases/{phase_id}")
    description = walk.el("description")
    assert description.find_element(By.TAG_NAME, "strong").text == "forget"
    walk.until_text("countdown", "3 d ")  # drawn by the page's script, in the viewer's zone
    assert "dry-run submission.py --phase-file phase.json" in walk.text_of("dry-run-command")
    assert live_server.url not in walk.text_of("data")  # no host name in the commands
    assert "3 of 3 submissions left today" in walk.text_of("quota-left")
    walk.shot("07-phase-page")

    # She uploads; the submission page follows the evaluation without a reload.
    walk.el("submit-link").click()
    source = tmp_path / "submission.py"
    source.write_bytes(VALID_SOURCE.replace(b"net.eval()", b'print("fine-tuning"); net.eval()'))
    walk.el("file").send_keys(str(source))
    walk.shot("08-upload")
    walk.el("submit-button").click()
    assert walk.text_of("status") == "waiting in the queue"
    walk.until_text("flash", "Submitted.")
    sub_id = int(urlsplit(browser.current_url).path.rsplit("/", 1)[1])
    assert walk.text_of("runs-public") == "0 of 8 runs"

    lifecycle.start_sanity_check(session, submission_id=sub_id, worker="worker-1")
    lifecycle.heartbeat(session, hostname="worker-1", submission_id=sub_id)
    lifecycle.record_sanity_check(session, submission_id=sub_id, attempt=1, passed=True)
    plan = [("public", [0, 1, 2, 3]), ("public", [4, 5, 6, 7]), ("private", list(range(8)))]
    leases.begin_attempt(
        session, submission_id=sub_id, attempt=1, shards=plan, holder="worker-1", lease_s=60
    )
    leases.finish_shard(
        session, submission_id=sub_id, attempt=1, shard=0, output_key="o0", seconds=48.0
    )
    walk.until_text("runs-public", "4 of 8 runs")
    walk.until_text("status", "running")
    # 12 s a run, 4 public runs to go: the private split's runs never enter a team's figure.
    assert walk.text_of("remaining") == "48 s"
    walk.shot("09-progress")

    for shard in (1, 2):
        leases.finish_shard(
            session, submission_id=sub_id, attempt=1, shard=shard, output_key="o", seconds=48.0
        )
    lifecycle.start_scoring(session, submission_id=sub_id, attempt=1)
    lifecycle.attach_logs(
        session, store, submission_id=sub_id, attempt=1,
        text="[seed 0] fine-tuning\n[seed 1] fine-tuning\n",
    )  # fmt: skip
    store.put_bytes(f"submissions/{sub_id}/plots/epsilons.png", _epsilon_png(tmp_path))
    public = report(
        0.0539, half_width=0.0088, noise_floor=0.25687499999999996, run_seconds=12.0,
        retrain_seconds=100.0, mia={"population": {"accuracy": 0.512}, "lira": {"auc": 0.547}},
    )  # fmt: skip
    lifecycle.record_result(
        session, submission_id=sub_id, attempt=1, split="public", report=public,
        plot_keys=(f"submissions/{sub_id}/plots/epsilons.png",),
    )  # fmt: skip
    lifecycle.record_result(
        session, submission_id=sub_id, attempt=1, split="private", report=report(0.05)
    )
    walk.until_text("status", "finished")  # the page reloads itself for the report
    rows = {
        row.find_element(By.TAG_NAME, "th").text: row.text
        for row in walk.el("report-public").find_elements(By.CSS_SELECTOR, "tbody tr")
    }
    assert "0.0539" in rows["Final score"] and "[0.0451, 0.0627]" in rows["Final score"]
    assert "0.2569" in rows["Noise floor"] and "0.256874" not in rows["Noise floor"]
    assert (
        "12% of one retraining" in rows["Efficiency"]
        and "within the gate of 20%" in (rows["Efficiency"])
    )
    assert "0.547" in walk.text_of("report-public")  # LiRA, beside the score
    assert "0.5470" not in walk.text_of("report-public")
    assert "fine-tuning" in walk.text_of("logs")
    image = walk.el("report-public").find_element(By.TAG_NAME, "img")
    assert browser.execute_script("return arguments[0].naturalWidth", image) >= 800
    walk.shot("10-report")

    # The leaderboard lists the team; Ada makes this her final submission.
    walk.go(f"/phases/{phase_id}/leaderboard")
    board = walk.el("leaderboard")
    assert "Forgetters" in board.text and "0.0539" in board.text
    walk.shot("11-leaderboard")
    walk.go(f"/submissions/{sub_id}")
    walk.el("make-final").click()
    walk.el("confirm-yes").click()  # the page's own dialog, not the browser's confirm()
    walk.until_text("is-final", "final submission")
    walk.until_text("flash", "now your team's final submission")
    walk.shot("12-final-pick")

    # The organizer disqualifies it, with a reason the team sees, then looks at the console.
    walk.login(world.organizer.email)
    walk.go(f"/submissions/{sub_id}")
    walk.el("disqualify").click()
    walk.el("confirm-reason").send_keys("same code as another team")
    walk.el("confirm-yes").click()
    walk.el("dq-badge")
    walk.login("bo@example.org", "bo's long password")
    walk.go(f"/submissions/{sub_id}")
    assert "same code as another team" in walk.text_of("disqualified")
    assert not browser.find_elements(By.ID, "make-final")
    walk.shot("13-disqualified")
    walk.go(f"/phases/{phase_id}/leaderboard")
    assert "Forgetters" not in walk.el("leaderboard").text

    walk.login(world.organizer.email)
    walk.go("/admin")
    # The worker's last job has finished: it is not named as a current one.
    assert "submission " + str(sub_id) not in walk.el("worker-rows").text
    walk.shot("14-console")
    walk.el(f"reinstate-{sub_id}").click()
    walk.el("confirm-yes").click()
    walk.el(f"disqualify-{sub_id}")  # the page reloaded: the undo took
    walk.until_text("flash", "Disqualification withdrawn")

    # The phase ends: the private leaderboard is public.
    phase = session.get(Phase, phase_id)
    phase.ends_at = utcnow() - timedelta(minutes=1)
    session.commit()
    walk.logout()
    walk.go(f"/phases/{phase_id}")
    assert walk.text_of("phase-state") == "ended"
    walk.go(f"/phases/{phase_id}/leaderboard?split=private")
    assert "private leaderboard" in browser.find_element(By.TAG_NAME, "h1").text
    walk.shot("15-ended-private")

    walk.driver.set_window_size(390, 844)
    walk.go(f"/phases/{phase_id}")
    walk.shot("16-phone-phase")
    walk.driver.set_window_size(1280, 1000)

    if os.environ.get("UNLEARN_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for path in walk.shots:
            if path.stem in MAIN_SHOTS:
                small_png(path)
                shutil.copyfile(path, DOCS / path.name)
    assert len(walk.shots) == 17

    # Accessibility of the main pages, for a participant, an organizer and a visitor.
    if not AXE.exists():
        pytest.skip(f"no axe-core at {AXE}: run `npm install --no-save axe-core` in the repo")
    problems: list[str] = []
    walk.login("ada@example.org", "ada's long password")
    for page in ("/", f"/phases/{phase_id}", f"/submissions/{sub_id}", "/team", "/account",
                 f"/phases/{phase_id}/leaderboard", "/submissions"):  # fmt: skip
        walk.go(page)
        problems += walk.axe(page)
    walk.login(world.organizer.email)
    for page in ("/admin", "/admin/phases/new", f"/admin/phases/{phase_id}/edit"):
        walk.go(page)
        problems += walk.axe(page)
    walk.logout()
    for page in ("/register", "/login"):
        walk.go(page)
        problems += walk.axe(page)
    assert problems == []
    # The check can fail: an unlabelled field is a critical violation.
    browser.execute_script(
        "document.querySelector('main').appendChild(document.createElement('input'))"
    )
    assert any("label" in problem for problem in walk.axe("/login + unlabelled input"))
