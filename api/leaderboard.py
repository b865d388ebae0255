"""Leaderboards: one row per team, ranked, with confidence intervals and statistical ties.

Input: a phase and a split. Output: `schemas.Leaderboard`.
- public: each team's best public score (ties between a team's own submissions: earliest);
- private: each team's final selection (`is_final`), or its best public submission when it
  selected none, ranked by that submission's private score.
Ranking: score descending, then earlier submission, then lower id (deterministic; earlier
submission wins a tie, as participants expect). Disqualified submissions and rows without a
score never appear. A row is `tied_with_above` when its confidence interval overlaps the one
above; rows chained this way share a `tie_group`. In a racing phase a row that stopped
before the phase's N carries `provisional_runs` (the N it stopped at): it could not reach
the top k, and its score stands on fewer runs than the rows above it: such rows are
ranked after every row that ran the full N (by score among themselves), so a score at
n < N, which the estimators put on another scale, never climbs above a full-N row.

Reads only the `submissions` table (scores are denormalised there by `lifecycle.record_result`)
with one window query, and `LeaderboardCache` keeps the serialized answer for a short TTL so
that a busy leaderboard costs one query per TTL, not per request.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.schemas import Leaderboard
from competition.models import Phase, Submission, Team, utcnow

Split = Literal["public", "private"]

__all__ = ["LeaderboardCache", "compute_leaderboard", "csv_cell", "to_csv"]


def compute_leaderboard(session: Session, phase: Phase, split: Split) -> Leaderboard:
    best_public = func.row_number().over(
        partition_by=Submission.team_id,
        order_by=(
            Submission.public_score.desc(),
            Submission.created_at.asc(),
            Submission.id.asc(),
        ),
    )
    eligible = (Submission.phase_id == phase.id, Submission.disqualified.is_(False))
    if split == "public":
        chosen = (
            select(Submission.id, best_public.label("pick"))
            .where(*eligible, Submission.public_score.is_not(None))
            .subquery()
        )
        picked_ids: Any = select(chosen.c.id).where(chosen.c.pick == 1)
        score, low, high = (
            Submission.public_score,
            Submission.public_ci_low,
            Submission.public_ci_high,
        )
    else:
        has_final = (
            select(Submission.team_id).where(*eligible, Submission.is_final.is_(True)).distinct()
        )
        default_pick = (
            select(Submission.id, best_public.label("pick"))
            .where(
                *eligible,
                Submission.public_score.is_not(None),
                Submission.team_id.not_in(has_final),
            )
            .subquery()
        )
        picked_ids = (
            select(Submission.id)
            .where(*eligible, Submission.is_final.is_(True))
            .union_all(select(default_pick.c.id).where(default_pick.c.pick == 1))
        )
        score, low, high = (
            Submission.private_score,
            Submission.private_ci_low,
            Submission.private_ci_high,
        )
    rows = session.execute(
        select(
            Submission.id,
            Submission.team_id,
            Team.name,
            score,
            low,
            high,
            Submission.created_at,
            Submission.provisional_runs,
        )
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.id.in_(picked_ids), score.is_not(None))
        # Rows that ran the full N first: a stopped row's score may stand on another
        # scale (its score at n), and racing guarantees the top k ran N.
        .order_by(
            Submission.provisional_runs.is_not(None),
            score.desc(),
            Submission.created_at.asc(),
            Submission.id.asc(),
        )
    ).all()
    # One validation call for the whole board: per-row model construction costs more than
    # the query on a 500-team board.
    return Leaderboard.model_validate(
        {
            "phase_id": phase.id,
            "split": split,
            "final": split == "private",
            "rows": _rank_with_ties(rows),
            "generated_at": utcnow(),
        }
    )


def _rank_with_ties(rows: Sequence[Any]) -> list[dict[str, Any]]:
    ranked: list[dict[str, Any]] = []
    group = 0
    for index, row in enumerate(rows):
        sub_id, team_id, team_name, score, low, high, created_at, provisional_runs = row
        tied = False
        if ranked:
            above = ranked[-1]
            tied = _overlap(low, high, above["ci_low"], above["ci_high"]) or score == above["score"]
        if not tied:
            group += 1
        ranked.append(
            {
                "rank": index + 1,
                "team_id": team_id,
                "team_name": team_name,
                "submission_id": sub_id,
                "score": score,
                "ci_low": low,
                "ci_high": high,
                "tied_with_above": tied,
                "tie_group": group,
                "submitted_at": created_at,
                "provisional_runs": provisional_runs,
            }
        )
    return ranked


def _overlap(
    low_a: float | None, high_a: float | None, low_b: float | None, high_b: float | None
) -> bool:
    if None in (low_a, high_a, low_b, high_b):
        return False
    return low_a <= high_b and low_b <= high_a  # type: ignore[operator]


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
