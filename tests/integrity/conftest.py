"""Fixtures of the integrity tests, found by name: the sandbox's (image built from this tree,
test-sized settings, a tiny job), shared with tests/sandbox, and the server's of `tests/api`
(a migrated database per backend, the app, clients, a world of users, teams and a phase, a
live uvicorn server)."""

from tests.api.conftest import (  # noqa: F401
    app,
    client,
    db_url,
    empty_database_factory,
    live_server,
    migrated_url,
    queue,
    session,
    settings,
    world,
)
from tests.sandbox.conftest import (  # noqa: F401
    make_job,
    runsc_settings,
    sandbox_image,
    test_settings,
)
