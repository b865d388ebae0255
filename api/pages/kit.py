"""A phase's starting kit, one zip built from the repository: `GET /phases/{id}/starting-kit.zip`.

A participant who has only a browser downloads it, runs one install command and then the
phase's own dry-run command, offline, on the phase's published development split:

    unlearning-kit-phase-<id>/
        README.md              this phase's three commands (install, dry-run, submit)
        phase.json             the phase as `GET /api/v1/phases/<id>` shows it (public fields)
        submission.py          a first submission for the phase's batch interface
        starting_kit/          the repository's kit: README, baselines, examples, notebook
        unlearning-harness/    the project's source, what `pip install` needs for `unlearn`

The project is not on a package index, so the kit carries its source (about 1 MB) rather
than an install line that could not work. `phase.json` makes the dry-run independent of the
server's address: `unlearn dry-run --phase-file` reads the same public fields that
`--phase ID --server URL` fetches, so no host name is needed (nor echoed from a request).

Where the repository is: `Settings.source_dir`, else the checkout this code runs from; a
server installed without it answers 503 with a page that says so.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from api import crud
from api.deps import PathId, SessionDep, SettingsDep
from api.errors import APIError
from api.schemas import PhasePublic
from competition.models import Phase
from harness.phase_schema import flat_fields

__all__ = [
    "INSTALL_COMMAND",
    "KitCommands",
    "SOURCE_FOLDER",
    "build_kit",
    "commands",
    "find_source_dir",
    "router",
]

router = APIRouter()

SOURCE_FOLDER = "unlearning-harness"
# What `pip install` reads (pyproject's `readme` names README.md; its package list is these).
SOURCE_FILES = ("pyproject.toml", "README.md")
SOURCE_PACKAGES = ("harness", "competition", "api", "worker", "unlearn")
# A first submission per batch interface (harness.runs.interfaces), copied to submission.py.
FIRST_SUBMISSION = {
    "tuple": "starting_kit/examples/finetune.py",
    "kaggle2023": "starting_kit/examples/finetune_kaggle2023.py",
}
SKIPPED_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# Fixed member times: the same repository and phase give the same bytes.
ZIP_TIME = (2024, 1, 1, 0, 0, 0)

INSTALL_COMMAND = f"python3 -m venv .venv && .venv/bin/pip install ./{SOURCE_FOLDER}"


class KitUnavailable(APIError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "the starting kit is not available on this server: it runs without the "
            "repository's starting_kit/ folder (organizers: set UNLEARN_SOURCE_DIR to a "
            "checkout of the project)",
            code="kit_unavailable",
        )


class KitCommands:
    """What the phase page and the kit's README quote, in one place so they agree."""

    def __init__(self, phase: Phase) -> None:
        self.folder = f"unlearning-kit-phase-{phase.id}"
        self.zip_name = f"{self.folder}.zip"
        self.url = f"/phases/{phase.id}/starting-kit.zip"
        self.install = f"cd {self.folder} && {INSTALL_COMMAND}"
        self.dry_run = ".venv/bin/unlearn dry-run submission.py --phase-file phase.json"
        self.submit = f".venv/bin/unlearn submit submission.py --phase {phase.id} --wait"
        self.first_submission = FIRST_SUBMISSION.get(
            phase.config.interface, FIRST_SUBMISSION["tuple"]
        )
        # Every file a page quotes, relative to the kit's folder (a test checks each exists).
        self.quoted_files = (
            "README.md",
            "phase.json",
            "submission.py",
            self.first_submission,
            "starting_kit/README.md",
            "starting_kit/BASELINES.md",
            "starting_kit/walkthrough.ipynb",
            "starting_kit/baselines/finetune.py",
            "starting_kit/baselines/reset_finetune.py",
            f"{SOURCE_FOLDER}/pyproject.toml",
        )


def commands(phase: Phase) -> KitCommands:
    return KitCommands(phase)


def find_source_dir(configured: Path | None) -> Path | None:
    """The repository checkout with starting_kit/ and the packages, or None."""
    candidates = [configured] if configured else [Path(__file__).resolve().parents[2]]
    for root in candidates:
        if (root / "starting_kit").is_dir() and (root / "pyproject.toml").is_file():
            return root
    return None


def _files_under(root: Path, folder: str) -> Iterator[Path]:
    for path in sorted((root / folder).rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not SKIPPED_PARTS.intersection(relative.parts):
            if not path.name.endswith(SKIPPED_SUFFIXES) and not path.name.startswith("."):
                yield path


@lru_cache(maxsize=4)
def _repository_members(root: Path) -> tuple[tuple[str, bytes], ...]:
    """(name inside the kit, bytes) of the repository's part; read once per process."""
    members: list[tuple[str, bytes]] = [
        (path.relative_to(root).as_posix(), path.read_bytes())
        for path in _files_under(root, "starting_kit")
    ]
    for name in SOURCE_FILES:
        members.append((f"{SOURCE_FOLDER}/{name}", (root / name).read_bytes()))
    for package in SOURCE_PACKAGES:
        for path in _files_under(root, package):
            name = f"{SOURCE_FOLDER}/{path.relative_to(root).as_posix()}"
            members.append((name, path.read_bytes()))
    return tuple(members)


def _readme(phase: Phase, kit: KitCommands) -> str:
    fields = flat_fields(phase.config)
    return f"""# Starting kit for {phase.name}

Everything you need to take part in this phase from your own machine (Python 3.11 or later).

1. Install the `unlearn` command (once; it brings PyTorch, about 1 GB):

       {kit.install}

2. Evaluate `submission.py` on this phase's published development split, exactly as the
   server will (no quota is spent; the first run also trains the reference models):

       {kit.dry_run}

   `submission.py` is a copy of `{kit.first_submission}`. Start from it or from any
   baseline in `starting_kit/baselines/` (their scores: `starting_kit/BASELINES.md`);
   `starting_kit/README.md` explains the interface, the score and how to read the report,
   and `starting_kit/walkthrough.ipynb` walks the same path in a notebook.

3. Submit, from the phase page's upload form or from here after `.venv/bin/unlearn login`
   (set `UNLEARN_URL` to the site's address first):

       {kit.submit}

What is here:

- `phase.json`: this phase's public settings (dataset `{fields["dataset"]}`, model
  `{fields["model"]}`, N = {fields["replicas"]} runs, estimator `{fields["estimator"]}`, batch
  interface `{fields["interface"]}`);
- `submission.py`: your submission, with
  `def unlearning(net, retain_loader, forget_loader, val_loader)`;
- `starting_kit/`: the interface, ten baselines, examples and a notebook;
- `{SOURCE_FOLDER}/`: the evaluation harness and the `unlearn` command, installed by step 1.
"""


def build_kit(phase: Phase, source_dir: Path) -> bytes:
    """The zip's bytes: the repository's part plus this phase's README, phase.json and
    submission.py, all under one top folder."""
    kit = commands(phase)
    members = dict(_repository_members(source_dir))
    public = PhasePublic.model_validate(phase).model_dump(mode="json")
    phase_members = {
        "README.md": _readme(phase, kit).encode(),
        "phase.json": (json.dumps(public, indent=2) + "\n").encode(),
        "submission.py": members[kit.first_submission],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*phase_members.items(), *members.items()]:
            info = zipfile.ZipInfo(f"{kit.folder}/{name}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@router.get("/phases/{phase_id}/starting-kit.zip", response_class=Response)
def starting_kit(phase_id: PathId, session: SessionDep, settings: SettingsDep) -> Response:
    phase = crud.get_phase(session, phase_id)
    source_dir = find_source_dir(settings.source_dir)
    if source_dir is None:
        raise KitUnavailable()
    kit = commands(phase)
    return Response(
        build_kit(phase, source_dir),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{kit.zip_name}"'},
    )
