"""One contract check, the same answer at upload and in the dry-run, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.upload import UploadLimits, UploadRejected, validate_upload
from harness.errors import InvalidSubmission
from harness.runs.contract import check_entry_point
from harness.runs.protocol import load_submission

ACCEPTED = {
    "extra default": "def unlearning(net, r, f, v, lr=0.1):\n    pass\n",
    "keyword default": "def unlearning(net, r, f, v, *, epochs=3):\n    pass\n",
    "star args": "def unlearning(net, *loaders, **options):\n    pass\n",
    "assigned": "def method(net, r, f, v):\n    pass\n\nunlearning = method\n",
    "assigned twice": "def m(net, r, f, v):\n    pass\n\nb = m\nunlearning = b\n",
    "decorated": "import functools\n\n@functools.lru_cache\ndef unlearning(net, r, f, v):\n"
    "    pass\n",
    "lambda": "unlearning = lambda net, r, f, v: None\n",
    "inside if": "if True:\n    def unlearning(net, r, f, v):\n        pass\n",
}

REFUSED = {
    "required keyword-only": ("def unlearning(net, a, b, c, *, k):\n    pass\n", 1, "keyword"),
    "required extra": ("def unlearning(net, r, f, v, device):\n    pass\n", 1, "device=None"),
    "three": ("def unlearning(a, b, c):\n    pass\n", 1, "takes 3 positional"),
    "async": ("x = 1\nasync def unlearning(a, b, c, d):\n    pass\n", 2, "not async"),
    "assigned bad": ("def m(a):\n    pass\n\n\nunlearning = m\n", 1, "takes 1 positional"),
    "missing": ("def other(a, b, c, d):\n    pass\n", None, "no top-level function"),
    "method only": ("class K:\n    def unlearning(self, a, b, c):\n        pass\n", None, "no top"),
}


@pytest.mark.parametrize("source", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_contract_accepts_what_python_can_call_at_upload_and_in_the_dry_run(
    source: str, tmp_path: Path
) -> None:
    assert check_entry_point(source) == []
    assert validate_upload("s.py", source.encode(), UploadLimits()).kind == "py"
    path = tmp_path / "submission.py"
    path.write_text(source)
    assert callable(load_submission(path))


@pytest.mark.parametrize(("source", "line", "fragment"), REFUSED.values(), ids=REFUSED.keys())
def test_contract_refuses_the_same_everywhere_with_file_and_line(
    source: str, line: int | None, fragment: str, tmp_path: Path
) -> None:
    [problem] = check_entry_point(source, filename="submission.py")
    assert problem.line == line and fragment in problem.message
    with pytest.raises(UploadRejected) as rejected:
        validate_upload("s.py", source.encode(), UploadLimits())
    [found] = rejected.value.problems
    assert (found.file, found.line, found.message) == ("submission.py", line, problem.message)
    path = tmp_path / "submission.py"
    path.write_text(source)
    with pytest.raises(InvalidSubmission, match=fragment):
        load_submission(path)


def test_contract_leaves_an_undecidable_entry_point_to_the_sanity_run(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("def unlearning(net):\n    pass\n")
    source = "from helper import unlearning\n"
    assert check_entry_point(source) == [], "an import cannot be judged from the source"
    path = tmp_path / "submission.py"
    path.write_text(source)
    with pytest.raises(InvalidSubmission, match="cannot take four arguments"):
        load_submission(path)


def test_contract_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, harness.runs.contract, api.upload; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


KAGGLE_FILLS = ("device", "DEVICE")  # harness.data.interfaces.KAGGLE2023.device_parameters
NEEDS_ITS_DEVICE = {
    "required device": "def unlearning(net, r, f, v, device):\n    pass\n",
    "required keyword-only DEVICE": "def unlearning(net, r, f, v, *, DEVICE):\n    pass\n",
    "both": "def unlearning(net, r, f, v, device, lr=0.1, *, DEVICE):\n    pass\n",
}


@pytest.mark.parametrize("source", NEEDS_ITS_DEVICE.values(), ids=NEEDS_ITS_DEVICE.keys())
def test_a_required_device_parameter_is_accepted_where_the_interface_fills_it(
    source: str, tmp_path: Path
) -> None:
    """As a 2023 notebook's own caller passed the device: under an interface that fills it,
    the parameter counts as given, at upload, in the dry-run and inside the sandbox."""
    assert check_entry_point(source, filled=KAGGLE_FILLS) == []
    validate_upload("s.py", source.encode(), UploadLimits(), filled=KAGGLE_FILLS)
    path = tmp_path / "submission.py"
    path.write_text(source)
    assert callable(load_submission(path, filled=KAGGLE_FILLS))
    # Control: an interface that fills nothing refuses the same code, saying what to change.
    problems = check_entry_point(source)
    assert problems and all("default" in p.message for p in problems)


@pytest.mark.parametrize(
    "source",
    [
        "def unlearning(net, r, f, v, device, /):\n    pass\n",  # cannot be passed by keyword
        "def unlearning(net, r, f, v, device, lr):\n    pass\n",  # lr is not filled
    ],
    ids=["positional-only", "another required"],
)
def test_filled_names_do_not_excuse_what_the_harness_cannot_pass(source: str) -> None:
    [problem] = check_entry_point(source, filled=KAGGLE_FILLS)
    assert "required" in problem.message
