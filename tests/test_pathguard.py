"""The fresh-clone guard records reads outside the allowed folders, and only those."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

from tests import pathguard

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import sys
from pathlib import Path
from tests import pathguard
inside, outside = Path(sys.argv[1]), Path(sys.argv[2])
record = []
pathguard.install(inside, record, roots=(str(inside) + "/",))
(inside / "kept.txt").read_text()
(outside / "golden.npz").read_bytes()
(outside / "written.txt").write_text("a write is not a read")
print(repr(record))
"""


def test_guard_records_a_read_outside_and_ignores_reads_inside_and_writes(tmp_path: Path) -> None:
    inside, outside = tmp_path / "checkout", tmp_path / "shared"
    inside.mkdir()
    outside.mkdir()
    (inside / "kept.txt").write_text("x")
    (outside / "golden.npz").write_bytes(b"x")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(inside), str(outside)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ast.literal_eval(done.stdout) == [str((outside / "golden.npz").resolve())]


def test_default_roots_hold_the_checkout_and_venv_but_not_a_sibling_folder() -> None:
    roots = pathguard.allowed_roots(REPO)
    assert not pathguard.is_outside(str(REPO / "tests" / "fixtures" / "README.md"), roots)
    assert not pathguard.is_outside(sys.prefix + "/bin/python", roots)
    assert pathguard.is_outside("/srv/elsewhere/shared/fixtures/x.npz", roots)
    # The checkout's sibling, unless the checkout itself lies in the (allowed) temp folder.
    if not REPO.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()):
        assert pathguard.is_outside(str(REPO.parent / "shared" / "fixtures" / "x.npz"), roots)
