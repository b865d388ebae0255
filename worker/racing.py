"""Racing in the worker: rounds as successive chords of shards, decided by the core's rule.

In a phase with `racing` set, `start_evaluation` plans every shard of the full N as usual
(cut at the round sizes, `recovery.plan_shards(rounds=...)`), but `dispatch_shards` sends
only the shards of the current round. When a round's chord ends, `finish_evaluation` calls
`race_round`: it scores the public split's first n runs against the reference's first n
models (`EvaluationBackend.score_round`), adds that to the attempt's profile (a JSON file
in the artifact store, next to the shards' arrays), and asks
`harness.scoring.racing.decide` against the profiles of the phase's finished rows. Going
on sends the next round's chord; stopping scores the n runs of each split as the final
result, marked provisional. The last round always goes to the full scoring.

Each round is scored once (its score is kept in the profile); a replayed callback finds
the next round started and waits, or, when its shards were never claimed (a lost
message), sends them again, which their claims make harmless. Rounds are run on the public
split only, the one the board ranks during the phase; the private split runs afterwards, once,
on the first n seeds the race stopped at (`worker.leases.stage`), so the race's timing never
depends on private runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from competition.artifacts import ArtifactStore
from competition.models import Result, Submission, SubmissionStatus
from competition.pipeline_models import ShardRun, ShardState
from harness.report.schema import EvaluationReport, Racing, RoundRow
from harness.scoring.racing import RacingConfig, RoundScore, decide
from worker.backend import EvaluationBackend, PhaseInfo, ShardArrays

logger = logging.getLogger(__name__)

__all__ = [
    "board_profiles",
    "config_of",
    "current_round",
    "race_round",
    "racing_report",
    "round_shards",
]


def config_of(phase: PhaseInfo) -> RacingConfig | None:
    """The phase's racing settings, or None when every submission runs the full N."""
    return phase.config.racing


def _shards(session: Session, submission_id: int, attempt: int) -> list[Any]:
    """The public split's shards: the race runs on them alone."""
    return list(
        session.execute(
            select(ShardRun.shard, ShardRun.seeds, ShardRun.state, ShardRun.split).where(
                ShardRun.submission_id == submission_id,
                ShardRun.attempt == attempt,
                ShardRun.split == "public",
            )
        ).all()
    )


def current_round(
    session: Session, *, submission_id: int, attempt: int, rounds: list[int]
) -> tuple[int, int]:
    """(n done, n of the round in progress): n done is the largest round whose shards are
    all done (0: none yet); the round in progress is the next one (== n done at the end)."""
    rows = _shards(session, submission_id, attempt)
    done = 0
    for n in rounds:
        members = [row for row in rows if max(row.seeds) < n]
        if not members or any(row.state != ShardState.DONE for row in members):
            return done, n
        done = n
    return done, done


def round_shards(session: Session, *, submission_id: int, attempt: int, n: int) -> list[int]:
    """Public shards of the first n seeds that are not done yet."""
    rows = _shards(session, submission_id, attempt)
    return [row.shard for row in rows if max(row.seeds) < n and row.state != ShardState.DONE]


def _started(session: Session, *, submission_id: int, attempt: int, lo: int, hi: int) -> bool:
    """Whether any shard of the seeds lo..hi-1 was claimed (the round was sent)."""
    rows = _shards(session, submission_id, attempt)
    return any(lo <= max(r.seeds) < hi and r.state != ShardState.PENDING for r in rows)


def round_outputs(
    session: Session, *, submission_id: int, attempt: int, n: int, split: str = "public"
) -> list[tuple[str, str]]:
    """(split, output key) of the split's done shards of the first n seeds."""
    rows = session.execute(
        select(ShardRun.split, ShardRun.output_key, ShardRun.seeds).where(
            ShardRun.submission_id == submission_id,
            ShardRun.attempt == attempt,
            ShardRun.state == ShardState.DONE,
            ShardRun.split == split,
        )
    ).all()
    return [(row.split, row.output_key) for row in rows if max(row.seeds) < n]


def board_profiles(session: Session, *, phase_id: int, exclude: int) -> list[dict[int, RoundScore]]:
    """The public round profiles of the phase's scored, not disqualified rows."""
    reports = session.scalars(
        select(Result.report)
        .join(Submission, Submission.id == Result.submission_id)
        .where(
            Submission.phase_id == phase_id,
            Submission.id != exclude,
            # Every row whose public result stands, whatever its private stage is doing: the
            # race must not depend on another submission's private runs either.
            Submission.status != SubmissionStatus.CANCELLED,
            Submission.disqualified.is_(False),
            Result.attempt == Submission.attempt,
            Result.split == "public",
        )
    ).all()
    profiles = []
    for stored in reports:
        race = EvaluationReport.model_validate(stored).racing
        if race is not None and race.profile:
            profiles.append(
                {
                    r.n: RoundScore(n=r.n, score=r.score, low=r.low, high=r.high)
                    for r in race.profile
                }
            )
    return profiles


def _profile_key(submission_id: int, attempt: int) -> str:
    return f"evaluations/{submission_id}/attempt-{attempt}/racing.json"


def load_profile(store: ArtifactStore, submission_id: int, attempt: int) -> dict[int, RoundScore]:
    key = _profile_key(submission_id, attempt)
    if not store.exists(key):
        return {}
    raw = json.loads(store.get_bytes(key))
    return {int(r["n"]): RoundScore.from_dict(r) for r in raw}


def _save_profile(
    store: ArtifactStore, submission_id: int, attempt: int, profile: dict[int, RoundScore]
) -> None:
    body = json.dumps([profile[n].to_dict() for n in sorted(profile)]).encode()
    store.put_bytes(_profile_key(submission_id, attempt), body)


def score_public_round(
    *,
    backend: EvaluationBackend,
    store: ArtifactStore,
    phase: PhaseInfo,
    config: RacingConfig,
    outputs: list[tuple[str, str]],
    submission_id: int,
    attempt: int,
) -> dict[int, RoundScore]:
    """Score the public runs in `outputs` as one round; returns the updated profile."""
    public = ShardArrays.concatenate(
        [
            ShardArrays.from_bytes(store.get_bytes(key))
            for split, key in outputs
            if split == "public"
        ]
    )
    current = RoundScore.from_dict(
        backend.score_round(
            phase=phase,
            runs=public,
            confidence=config.confidence(phase.config.replicas),
            predict=config.rule == "predicted",
        )
    )
    profile = load_profile(store, submission_id, attempt)
    profile[current.n] = current
    _save_profile(store, submission_id, attempt, profile)
    return profile


def race_round(
    session: Session,
    *,
    backend: EvaluationBackend,
    store: ArtifactStore,
    phase: PhaseInfo,
    config: RacingConfig,
    submission_id: int,
    attempt: int,
) -> tuple[str, int, str]:
    """After a chord: (step, n, reason). Steps: "waiting" while round n runs, "next" when
    round n is to be sent, "stop" when the race ends at n (n < N: provisional, the reason
    from `decide`; n == N: the full evaluation, reason "full").
    """
    rounds = config.rounds(phase.config.replicas)
    done, running = current_round(
        session, submission_id=submission_id, attempt=attempt, rounds=rounds
    )
    if done == phase.config.replicas:
        return "stop", done, "full"
    if done == 0 or round_shards(session, submission_id=submission_id, attempt=attempt, n=done):
        return "waiting", running, ""
    profile = load_profile(store, submission_id, attempt)
    if done not in profile:
        outputs = round_outputs(session, submission_id=submission_id, attempt=attempt, n=done)
        profile = score_public_round(
            backend=backend,
            store=store,
            phase=phase,
            config=config,
            outputs=outputs,
            submission_id=submission_id,
            attempt=attempt,
        )
    elif _started(session, submission_id=submission_id, attempt=attempt, lo=done, hi=running):
        return "waiting", running, ""  # this round was scored and the next one sent
    board = board_profiles(session, phase_id=phase.id, exclude=submission_id)
    decision = decide(config, current=profile[done], n_total=phase.config.replicas, board=board)
    logger.info(
        "submission %d attempt %d round %d: %s (cut %s)",
        submission_id,
        attempt,
        done,
        decision.reason,
        decision.cut,
    )
    return ("stop", done, decision.reason) if decision.stop else ("next", running, "")


def racing_report(profile: dict[int, RoundScore], *, n: int, n_total: int, reason: str) -> Racing:
    """What a result's report keeps of the race: where it ended and the profile."""
    return Racing(
        n=n,
        n_total=n_total,
        provisional=n < n_total,
        reason=reason,
        profile=[RoundRow.model_validate(profile[k].to_dict()) for k in sorted(profile) if k <= n],
    )
