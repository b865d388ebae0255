"""In CI, a test that needs a service and skips because the service is missing fails instead.

Tests marked `docker`, `redis`, `postgres`, `deploy` or `browser` skip themselves where the
service is missing, so that a laptop runs what it can. In CI (`.ci/run`, which starts every
service, sets UNLEARN_REQUIRE_SERVICES=1) such a skip means the service failed to start,
and the run must not pass: the skip becomes a failure naming the service and the script
that starts it. Expected failures (`xfail`) are left alone; `gpu` is deselected in CI, not
skipped, and is not a service here.

`tests/conftest.py` registers the hook; `tests/test_service_skips.py` tests it.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

__all__ = ["REQUIRE_SERVICES", "SERVICES", "pytest_runtest_makereport"]

REQUIRE_SERVICES = "UNLEARN_REQUIRE_SERVICES"

# marker -> what starts the service (all of them: scripts/setup.sh --services)
SERVICES = {
    "docker": "scripts/start_docker.sh, then scripts/build_sandbox_image.sh",
    "redis": "scripts/start_redis.sh",
    "postgres": "scripts/start_postgres.sh",
    "deploy": "scripts/start_docker.sh (docker-compose from scripts/setup.sh --services)",
    "browser": "scripts/setup.sh --services (chromium, chromedriver, axe-core)",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get(REQUIRE_SERVICES) != "1" or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return  # an expected failure, reported as skipped: not a missing service
    needed = [name for name in SERVICES if item.get_closest_marker(name) is not None]
    if not needed:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    starts = "; ".join(f"{name}: {SERVICES[name]}" for name in needed)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped ({reason.removeprefix('Skipped: ')}), but this test needs "
        f"{' and '.join(needed)} and {REQUIRE_SERVICES}=1 (CI) requires every service: "
        f"start it ({starts})"
    )
