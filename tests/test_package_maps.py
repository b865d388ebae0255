"""Package maps that are true: every file or folder a package's docstring names exists.

Each package of the project opens with a map of its modules (`competition/__init__.py`:
"models.py  tables and the state machine"); a module that moves or goes leaves its map
wrong, and a newcomer follows it into nothing. This test reads every package docstring and
fails on a named `x.py` or `x/` that is not in that package's folder.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "competition", "api", "worker", "unlearn", "starting_kit")
NAMED = re.compile(r"(?<![\w./-])([A-Za-z_][\w/]*?(?:\.py|/))(?![\w])")


def _package_inits() -> list[Path]:
    return sorted(p for top in PACKAGES for p in (ROOT / top).rglob("__init__.py"))


def _named_paths(init: Path) -> list[str]:
    docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
    return [m for m in NAMED.findall(docstring) if not m.startswith(("http", "tests/", "docs/"))]


@pytest.mark.parametrize("init", _package_inits(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_package_map_names_only_files_that_exist(init: Path) -> None:
    folder = init.parent
    missing = [
        name
        for name in _named_paths(init)
        if not (folder / name).exists() and not (ROOT / name).exists()
    ]
    assert missing == [], f"{init.relative_to(ROOT)} names {missing}, which do not exist"


def test_the_map_reader_finds_names() -> None:
    # Control: the reader sees the names of a known map, so the test above can fail.
    assert "lifecycle.py" in _named_paths(ROOT / "competition" / "__init__.py")
