"""The phase's starting-kit zip: what the pages quote is in it, and it runs."""

from __future__ import annotations

import html
import io
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from competition.models import Phase
from harness.phase_schema import public_phase, read_phase_file
from tests.api.pages.test_pages import login

# A token of a quoted command or name that names a file or folder of the kit.
PATH_TOKEN = re.compile(r"^\.?/?[\w.-]+(/[\w.-]*)*(\.(py|json|md|ipynb|toml)|/)$")


def quoted_paths(page: str) -> set[str]:
    """Every file or folder name inside a <code> element of the page."""
    found = set()
    for code in re.findall(r"<code[^>]*>(.*?)</code>", page, flags=re.S):
        for token in shlex.split(html.unescape(code)):
            token = token.removeprefix("./")
            if PATH_TOKEN.match(token) and not token.startswith(".venv/"):
                found.add(token)
    return found


def download(client, phase_id: int) -> zipfile.ZipFile:
    response = client.get(f"/phases/{phase_id}/starting-kit.zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert (
        f'filename="unlearning-kit-phase-{phase_id}.zip"'
        in (response.headers["content-disposition"])
    )
    return zipfile.ZipFile(io.BytesIO(response.content))


def command(page: str, element_id: str) -> list[str]:
    match = re.search(rf'<code id="{element_id}">(.*?)</code>', page)
    assert match, f"no #{element_id} on the page"
    return shlex.split(html.unescape(match.group(1)))


def test_starting_kit_holds_every_file_the_phase_and_submit_pages_quote(client, world):
    login(client, world.alice.email)
    phase_page = client.get(f"/phases/{world.phase_id}").text
    submit_page = client.get(f"/phases/{world.phase_id}/submit").text
    assert f'href="/phases/{world.phase_id}/starting-kit.zip"' in phase_page
    kit = download(client, world.phase_id)
    folder = f"unlearning-kit-phase-{world.phase_id}/"
    names = set(kit.namelist())
    quoted = quoted_paths(phase_page) | quoted_paths(submit_page)
    # The control: the pages do quote the kit's files (a page that quoted none would pass).
    assert {"submission.py", "phase.json", "starting_kit/baselines/reset_finetune.py"} <= quoted
    for path in quoted - {f"unlearning-kit-phase-{world.phase_id}.zip"}:
        if path.endswith("/"):
            assert any(n.startswith(folder + path) for n in names), path
        elif path != folder.rstrip("/"):
            assert folder + path in names, f"{path} is quoted but not in the kit"
    # The dry-run's target files, for both pages' commands.
    for page in (phase_page, submit_page):
        argv = command(page, "dry-run-command")
        assert argv[:3] == [".venv/bin/unlearn", "dry-run", "submission.py"]
        assert folder + argv[argv.index("--phase-file") + 1] in names
    install = command(phase_page, "install-command")
    assert install[:2] == ["cd", folder.rstrip("/")]
    assert folder + "unlearning-harness/pyproject.toml" in names
    assert folder + "unlearning-harness/unlearn/cli.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_starting_kit_page_names_no_host(client, world):
    page = client.get(f"/phases/{world.phase_id}", headers={"host": "evil.example"}).text
    assert "evil.example" not in page
    assert "testserver" not in client.get(f"/phases/{world.phase_id}").text


def test_starting_kit_phase_file_is_the_servers_phase(client, world, tmp_path):
    kit = download(client, world.phase_id)
    kit.extractall(tmp_path)
    folder = tmp_path / f"unlearning-kit-phase-{world.phase_id}"
    served = client.get(f"/api/v1/phases/{world.phase_id}").json()
    assert read_phase_file(folder / "phase.json") == public_phase(served)
    readme = (folder / "README.md").read_text()
    assert ".venv/bin/unlearn dry-run submission.py --phase-file phase.json" in readme
    assert (folder / "submission.py").read_bytes() == (
        folder / "starting_kit/examples/finetune.py"
    ).read_bytes()


def test_starting_kit_gives_dict_batches_their_own_first_submission(client, world, session):
    phase = session.get(Phase, world.phase_id)
    phase.config = phase.config.with_(interface="kaggle2023")
    session.commit()
    kit = download(client, world.phase_id)
    source = kit.read(f"unlearning-kit-phase-{world.phase_id}/submission.py").decode()
    assert 'sample["age_group"]' in source


def test_starting_kit_is_404_for_an_unknown_phase_and_503_without_the_repository(
    client, world, app, tmp_path
):
    assert client.get("/phases/999/starting-kit.zip").status_code == 404
    app.state.settings.source_dir = tmp_path  # an empty folder: no starting_kit/
    missing = client.get(f"/phases/{world.phase_id}/starting-kit.zip")
    assert missing.status_code == 503
    assert "UNLEARN_SOURCE_DIR" in missing.json()["error"]["message"]


@pytest.mark.slow
# The kit does not depend on the database: one backend is enough (a skip of the PostgreSQL
# variant would read as a missing service in CI).
@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_starting_kit_installs_and_dry_runs_as_the_phase_page_says(client, world, tmp_path, db_url):
    """The kit's source builds the `unlearn` command, and the page's dry-run command runs
    from the unzipped folder (this test's environment stands in for the kit's venv; fewer
    runs and epochs than the phase keep it to about a minute on 2 cores)."""
    download(client, world.phase_id).extractall(tmp_path)
    folder = tmp_path / f"unlearning-kit-phase-{world.phase_id}"
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
        + ["-w", str(tmp_path / "wheel"), str(folder / "unlearning-harness")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert wheel.returncode == 0, wheel.stderr
    built = zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl")))
    assert "unlearn/cli.py" in built.namelist()
    entry_points = next(n for n in built.namelist() if n.endswith("entry_points.txt"))
    assert "unlearn = unlearn.cli:app" in built.read(entry_points).decode()

    argv = command(client.get(f"/phases/{world.phase_id}").text, "dry-run-command")
    unlearn = str(Path(sys.executable).with_name("unlearn"))
    run = subprocess.run(
        [unlearn, *argv[1:], "--replicas", "4", "--epochs", "1", "--out", "runs/kit"]
        + ["--cache-dir", str(tmp_path / "cache")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (folder / "runs/kit/report.json").is_file()
