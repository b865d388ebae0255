"""Competition server: FastAPI app, database models, leaderboard pages and organizer controls.

Flow: participant uploads (`routes/submissions.py`) -> static validation (`upload.py`) ->
row + code committed (`crud.py`, `storage.py`) -> `queue.EvaluationQueue.enqueue` -> workers
record outcomes through `lifecycle.record_result` / `lifecycle.mark_failed` -> leaderboards
(`leaderboard.py`) read by JSON routes and Jinja2 pages (`pages/`).

`create_app` is imported lazily so that workers importing `competition.models` or `api.crud` do not
pay for building the web application.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.main import create_app

        return create_app
    raise AttributeError(name)
