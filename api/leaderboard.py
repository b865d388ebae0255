"""Leaderboards for the API: the ranked board (`competition.leaderboard`, where the rules
are) validated as `schemas.Leaderboard`, its CSV export, and `LeaderboardCache`, which keeps
the serialized answer for a short TTL so that a busy leaderboard costs one query per TTL,
not per request.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from api.schemas import Leaderboard
from competition.leaderboard import Split, leaderboard_dict
from competition.models import Phase

__all__ = ["LeaderboardCache", "compute_leaderboard", "csv_cell", "to_csv"]


def compute_leaderboard(
    session: Session, phase: Phase, split: Split, *, as_of: datetime | None = None
) -> Leaderboard:
    # One validation call for the whole board: per-row model construction costs more than
    # the query on a 500-team board.
    return Leaderboard.model_validate(leaderboard_dict(session, phase, split, as_of=as_of))


# A spreadsheet runs a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
# `@SUM(...)`, and tab or carriage return ahead of one): team names are chosen by
# participants, so such cells are written with a leading apostrophe (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """`value` as a CSV cell that no spreadsheet evaluates; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(board: Leaderboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "rank",
            "team_id",
            "team_name",
            "submission_id",
            "score",
            "ci_low",
            "ci_high",
            "tied_with_above",
            "tie_group",
            "submitted_at",
            "provisional_runs",
        ]
    )
    for row in board.rows:
        writer.writerow(
            [
                row.rank,
                row.team_id,
                csv_cell(row.team_name),
                row.submission_id,
                row.score,
                row.ci_low,
                row.ci_high,
                row.tied_with_above,
                row.tie_group,
                row.submitted_at.isoformat(),
                "" if row.provisional_runs is None else row.provisional_runs,
            ]
        )
    return out.getvalue()


class LeaderboardCache:
    """Serialized leaderboards kept for `ttl_seconds`, rebuilt by one thread at a time.

    While one request rebuilds an expired board, the others get the previous body
    (stale-while-revalidate), so a busy board never has a burst of identical queries when
    its entry expires. `invalidate()` drops everything at once; a TTL of 0 turns caching off.
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[int, str], tuple[float, bytes]] = {}
        self._build_locks: dict[tuple[int, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def lookup(self, key: tuple[int, str]) -> tuple[bytes | None, bool]:
        """(body or None, whether it is fresh). A stale body is served while another
        request is rebuilding it."""
        if self.ttl_seconds <= 0:
            return None, False
        with self._lock:
            entry = self._entries.get(key)
            building = key in self._build_locks and self._build_locks[key].locked()
        if entry is None:
            return None, False
        fresh = self._clock() - entry[0] < self.ttl_seconds
        return entry[1], fresh or building

    def get_or_build(self, key: tuple[int, str], build: Callable[[], bytes]) -> bytes:
        if self.ttl_seconds <= 0:
            return build()  # caching off: every request sees the database as it is
        body, usable = self.lookup(key)
        if body is not None and usable:
            return body
        with self._lock:
            build_lock = self._build_locks.setdefault(key, threading.Lock())
        if body is not None and not build_lock.acquire(blocking=False):
            return body  # someone else is rebuilding; serve the previous board
        if body is None:
            build_lock.acquire()
        try:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and self._clock() - entry[0] < self.ttl_seconds:
                return entry[1]  # built by the thread we waited for
            started = self._clock()
            body = build()
            with self._lock:
                self._entries[key] = (started, body)
            return body
        finally:
            build_lock.release()

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()
