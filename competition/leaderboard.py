"""Leaderboards: one row per team, ranked, with confidence intervals and statistical ties.

Input: a phase and a split. Output: the board as a dict (`api.schemas.Leaderboard` validates
it for the API; the worker's freeze stores it as the private board's snapshot).
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

Reads the `submissions` table (scores are denormalised there by `lifecycle.record_result`)
with one window query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from competition.models import Phase, Result, Submission, Team, utcnow

Split = Literal["public", "private"]

__all__ = ["Split", "leaderboard_dict"]


def leaderboard_dict(
    session: Session, phase: Phase, split: Split, *, as_of: datetime | None = None
) -> dict[str, Any]:
    """The board as a dict shaped like `api.schemas.Leaderboard`. `as_of` (the private
    board's freeze): only rows whose private result was stored by then, so the frozen board
    is the same whoever freezes it and whenever."""
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
        .where(Submission.id.in_(picked_ids), score.is_not(None), *_stored_by(split, as_of))
        # Rows that ran the full N first: a stopped row's score may stand on another
        # scale (its score at n), and racing guarantees the top k ran N.
        .order_by(
            Submission.provisional_runs.is_not(None),
            score.desc(),
            Submission.created_at.asc(),
            Submission.id.asc(),
        )
    ).all()
    return {
        "phase_id": phase.id,
        "split": split,
        "final": split == "private",
        "rows": _rank_with_ties(rows),
        "generated_at": utcnow(),
    }


def _stored_by(split: Split, as_of: datetime | None) -> tuple[Any, ...]:
    if as_of is None:
        return ()
    stored = (
        select(Result.id)
        .where(
            Result.submission_id == Submission.id,
            Result.attempt == Submission.attempt,
            Result.split == split,
            Result.created_at <= as_of,
        )
        .exists()
    )
    return (stored,)


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
