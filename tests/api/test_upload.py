"""Static validation of uploads, without a server: limits, zip hazards, AST checks."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from api.upload import UploadLimits, UploadRejected, validate_upload
from tests.api.factories import VALID_SOURCE, make_zip

LIMITS = UploadLimits(max_upload_bytes=100_000, max_unzipped_bytes=300_000, max_zip_members=20)


def problems(name: str, data: bytes, limits: UploadLimits = LIMITS) -> list[str]:
    with pytest.raises(UploadRejected) as info:
        validate_upload(name, data, limits)
    return [str(p) for p in info.value.problems]


def test_validate_upload_accepts_plain_file():
    upload = validate_upload("mine.py", VALID_SOURCE, LIMITS)
    assert (upload.kind, upload.size_bytes) == ("py", len(VALID_SOURCE))
    assert len(upload.sha256) == 64
    assert list(upload.python_files) == ["submission.py"]


def test_validate_upload_accepts_zip_and_parses_every_module():
    data = make_zip({"submission.py": VALID_SOURCE, "lib/a.py": b"A = 1\n", "README.md": b"hi"})
    upload = validate_upload("x.zip", data, LIMITS)
    assert sorted(upload.python_files) == ["lib/a.py", "submission.py"]


def test_validate_upload_reports_syntax_error_in_helper_with_location():
    data = make_zip({"submission.py": VALID_SOURCE, "lib/a.py": b"x = 1\ny = (\n"})
    assert any(p.startswith("lib/a.py:2") for p in problems("x.zip", data))


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (b"def other(a, b, c, d):\n    pass\n", "no top-level function"),
        (b"class K:\n    def unlearning(self, a, b, c):\n        pass\n", "no top-level function"),
        (b"def unlearning(a, b, c):\n    pass\n", "takes 3 positional"),
        (b"def unlearning(a, b, c, d, e):\n    pass\n", "takes 5 positional"),
        (b"async def unlearning(a, b, c, d):\n    pass\n", "not async"),
        (b"def unlearning(a, b, c, d, *, mode):\n    pass\n", "keyword-only"),
    ],
)
def test_validate_upload_checks_entry_signature(source: bytes, fragment: str):
    found = problems("submission.py", source)
    assert any(fragment in p for p in found), found


def test_validate_upload_accepts_defaults_and_star_args():
    ok = b"def unlearning(net, *loaders, epochs=3):\n    pass\n"
    assert validate_upload("s.py", ok, LIMITS).kind == "py"
    later_wins = b"def unlearning(a):\n    pass\n\ndef unlearning(a, b, c, d):\n    pass\n"
    assert validate_upload("s.py", later_wins, LIMITS).kind == "py"


def test_validate_upload_refuses_oversize_before_parsing():
    with pytest.raises(UploadRejected) as info:
        validate_upload("s.py", b"#" * 100_001, LIMITS)
    assert info.value.too_large


def test_validate_upload_refuses_declared_total_over_limit():
    data = make_zip(
        {"submission.py": VALID_SOURCE, "big.txt": bytes(range(256)) * 1500},
        compression=zipfile.ZIP_STORED,
    )
    roomy = UploadLimits(max_upload_bytes=1_000_000, max_unzipped_bytes=300_000)
    assert any("expands to" in p for p in problems("x.zip", data, roomy))


def _with_lying_size(data: bytes, member: str, fake_size: int) -> bytes:
    """Rewrite a stored member's declared uncompressed size in both headers."""
    raw = bytearray(data)
    name = member.encode()
    local = raw.find(b"PK\x03\x04" + b"")
    while local != -1:
        name_len = struct.unpack_from("<H", raw, local + 26)[0]
        if raw[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", raw, local + 22, fake_size)
        local = raw.find(b"PK\x03\x04", local + 4)
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", raw, central + 24, fake_size)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


def test_validate_upload_catches_headers_that_lie_about_size():
    payload = b"x = 1\n" * 5000
    data = make_zip({"submission.py": VALID_SOURCE, "helper.py": payload})
    lying = _with_lying_size(data, "helper.py", 10)  # claims 10 bytes, inflates to 30 kB
    found = problems("x.zip", lying)
    assert any("helper.py" in p for p in found), found


def test_validate_upload_refuses_encrypted_members():
    data = bytearray(make_zip({"submission.py": VALID_SOURCE}, compression=zipfile.ZIP_STORED))
    data[6] |= 0x1  # local header general-purpose flag: encrypted
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1
    assert any("encrypted" in p for p in problems("x.zip", bytes(data)))


def test_validate_upload_refuses_duplicate_names():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("submission.py", VALID_SOURCE)
        with pytest.warns(UserWarning):
            archive.writestr("submission.py", VALID_SOURCE)
    assert any("duplicate" in p for p in problems("x.zip", buffer.getvalue()))


def _zip_with_entries(*entries: tuple[str, bytes]) -> bytes:
    """A zip holding `entries` in order; a name ending in '/' is a folder entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entries", "member", "fragment"),
    [
        ((("helpers", b""), ("helpers/x.py", b"x = 1\n")), "helpers", "needs it to be a folder"),
        ((("helpers/x.py", b"x = 1\n"), ("helpers", b"")), "helpers", "needs it to be a folder"),
        ((("submission.py/", b""),), "submission.py", "needs it to be a folder"),
        ((("./submission.py", b"x = 1\n"),), "./submission.py", "'.' or empty component"),
        ((("lib//util.py", b"x = 1\n"),), "lib//util.py", "'.' or empty component"),
        ((("lib/./util.py", b"x = 1\n"),), "lib/./util.py", "'.' or empty component"),
    ],
)
def test_validate_upload_refuses_members_that_clash_once_extracted(
    entries: tuple[tuple[str, bytes], ...], member: str, fragment: str
):
    data = _zip_with_entries(("submission.py", VALID_SOURCE), *entries)
    found = problems("x.zip", data)
    assert any(p.startswith(f"{member}:") and fragment in p for p in found), found


def test_validate_upload_accepts_folder_entries_beside_their_files():
    # Control: what zip tools write for a folder (an entry per folder, then its files).
    data = _zip_with_entries(
        ("submission.py", VALID_SOURCE),
        ("helpers/", b""),
        ("helpers/x.py", b"x = 1\n"),
        ("helpers/deep/", b""),
        ("helpers/deep/y.py", b"y = 2\n"),
    )
    upload = validate_upload("x.zip", data, LIMITS)
    assert set(upload.python_files) == {"submission.py", "helpers/x.py", "helpers/deep/y.py"}
