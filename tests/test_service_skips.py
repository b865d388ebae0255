"""The CI rule of `tests/service_skips.py`: a service test that skips fails under
UNLEARN_REQUIRE_SERVICES=1, and only then."""

from __future__ import annotations

import pytest

from tests.service_skips import REQUIRE_SERVICES

CONFTEST = "from tests.service_skips import pytest_runtest_makereport  # noqa: F401\n"
INI = """[pytest]
markers =
    docker: needs Docker
    postgres: needs PostgreSQL
"""
TESTS = """
import pytest

@pytest.fixture
def daemon():
    pytest.skip("no Docker daemon reachable (start one with scripts/start_docker.sh)")

@pytest.mark.docker
def test_attack(daemon):
    pass

@pytest.mark.docker
def test_inside():
    pytest.skip("no Docker daemon reachable")

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)

@pytest.mark.parametrize("backend", ["sqlite", POSTGRES])
def test_query(backend):
    if backend == "postgres":
        pytest.skip("PostgreSQL not reachable")

def test_laptop_only():
    pytest.skip("not a service: skips everywhere")

@pytest.mark.docker
@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""


@pytest.fixture(name="suite")
def small_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_services=TESTS)
    return pytester


def test_skipped_service_tests_fail_when_services_are_required(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES, "1")
    result = suite.runpytest("-p", "no:cacheprovider", "-rA")
    # A fixture's skip fails at setup (an error), a skip in the body fails the test.
    result.assert_outcomes(passed=1, failed=2, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_attack*",
            "skipped (no Docker daemon reachable (start one with scripts/start_docker.sh)), "
            "but this test needs docker*start it (docker: scripts/start_docker.sh*",
            "*test_query?postgres?*",
            "skipped (PostgreSQL not reachable), but this test needs postgres*"
            "(postgres: scripts/start_postgres.sh)",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_skipped_service_tests_stay_skipped_without_the_variable(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES, raising=False)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
