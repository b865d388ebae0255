"""What the server sends to the workers after a commit, under one failure policy.

Every message names a row already committed: a `queued` submission (`queue.enqueue`) or a
phase whose preparation rows are pending (`queue.prepare_phase`). That row is the durable
record, so a failed send is logged and never reported to the caller: the workers'
reconciler (`worker.reconcile`) finds the row and sends it again. An upload or a phase edit
thus never fails because the broker is restarting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

__all__ = ["send_after_commit"]


def send_after_commit(send: Callable[[int], None], row_id: int, *, what: str) -> None:
    """Call `send(row_id)`; a failure is logged with `what` (e.g. "submission 7")."""
    try:
        send(row_id)
    except Exception:
        logger.exception("sending %s to the workers failed; the reconciler will retry", what)
