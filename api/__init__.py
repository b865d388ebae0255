"""Competition server: the FastAPI app, its JSON routes, web pages and organizer controls.

    main.py         create_app: middleware, routers, error handlers
    deps.py         sessions, the current user, the visible submission as a dependency
    schemas/        request and response models, one module per resource (common, accounts,
                    phases, submissions, boards, console), all re-exported by the package
    routes/         JSON routes under /api/v1, one module per resource
    pages/          server-rendered pages (Jinja2), one module per resource, static files
    services/       the use-cases both call: submit, logs, final pick, cancel, phase
                    create/edit/prepare, sign-up; routes and pages only translate HTTP
    crud/           reads and writes of the database, split by job
    visibility.py   the one policy of what a viewer may see of a submission, and when
    upload.py       static validation of an upload
    leaderboard.py  boards for the API (rules in `competition.leaderboard`), CSV, cache
    security.py, ratelimit.py, body_limits.py, errors.py, health.py, metrics.py

Flow: a participant uploads (`routes/submissions.py` or `pages/submissions.py`, both calling
`services/submissions.py`) -> static validation (`upload.py`) ->
row + code committed (`crud/submissions.py`, `competition.artifacts`) ->
`competition.queue.EvaluationQueue.enqueue` -> workers record outcomes through
`competition.lifecycle` -> boards and views read through `visibility.py`.

`create_app` is imported lazily so that workers importing `competition.models` or `api.crud`
do not pay for building the web application.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.main import create_app

        return create_app
    raise AttributeError(name)
