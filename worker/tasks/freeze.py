"""Beat task: freeze the private board of every phase that has ended.

The board stored is the one as of `ends_at` (`competition.snapshots`), so it is the same
whichever tick runs first, and no reader of the board ever freezes it.
"""

from __future__ import annotations

from competition.snapshots import freeze_ended
from worker.celery_app import app
from worker.context import get_context

__all__ = ["freeze_boards"]


@app.task(name="worker.freeze_boards")
def freeze_boards() -> list[int]:
    with get_context().sessions() as session:
        return freeze_ended(session)
