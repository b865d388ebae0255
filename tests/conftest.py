"""Suite-wide: with UNLEARN_TEST_PATH_GUARD=1 (CI), a test that reads outside the checkout fails;
with UNLEARN_REQUIRE_SERVICES=1 (CI), a service-marked test skipped for a missing service fails
(`tests/service_skips.py`).

See `tests/pathguard.py` for what counts as outside. Reads made while a test's fixtures
are set up count as that test's; the failure names the files, so the fix (copy them into
``tests/fixtures/``) is clear. Reads that belong to no test fail the whole run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import pathguard
from tests.service_skips import pytest_runtest_makereport  # noqa: F401 (a hook: pytest finds it)

pytest_plugins = ["pytester"]  # tests/test_service_skips.py runs pytest on small test files

GUARD = os.environ.get("UNLEARN_TEST_PATH_GUARD") == "1"
_outside: list[str] = []
_reported = 0
if GUARD:
    pathguard.install(Path(__file__).resolve().parents[1], _outside)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    global _reported
    if GUARD and len(_outside) > _reported:
        read, _reported = sorted(set(_outside[_reported:])), len(_outside)
        pytest.fail(
            f"{item.nodeid} read {len(read)} file(s) outside the checkout, which a fresh clone "
            f"does not have: {read[:5]}; copy what it needs into tests/fixtures/",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if GUARD and len(_outside) > _reported and exitstatus == 0:
        session.exitstatus = 1
        print(f"\npath guard: read outside the checkout: {sorted(set(_outside[_reported:]))[:10]}")
