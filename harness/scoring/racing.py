"""Racing: evaluate a submission in rounds of seeds and stop once it cannot reach the top k.

A phase with racing on runs each submission in rounds (``RacingConfig.rounds``: 32, 64,
128, ... up to the phase's N). After each round the worker (or the bench) scores the
submission's first n runs against the reference's first n models and asks ``decide``
whether to go on. The rule compares only at equal n: every board row keeps its score and
interval at each round size it ran (its *profile*), so the submission's round-n interval
is set against other rows' round-n intervals, computed from the same n reference models
and the same bucket table. Whatever an estimator's dependence on N (the competition
rule's F drifts with N), both sides of a comparison carry the same drift.

Stopping rules, at a round n < N (the last round never stops anything):

* ``out_of_reach``: the submission's upper bound at n lies below the lower bounds of k
  other rows (the *cut* is the k-th largest lower bound). Which bounds, by ``rule``:
  ``equal_n``, the other rows' bounds at the same n, sound when the estimator's drift
  with n is common to all submissions; ``full_n``, the bounds at N of rows that ran the
  full N, sound when a submission's expected score can only fall as n grows (its round-n
  upper bound then bounds its full-N score); ``both`` (the default) needs both cuts
  cleared, so it is sound when either assumption holds; ``predicted`` scores each round
  as the full-N score predicted from its n runs (``harness.scoring.prediction``) and
  holds it against the other rows' full-N estimates (``full_n_estimates``): no drift to
  cancel, sound as far as the prediction's model holds. Measured on real submissions
  (docs/benchmarks.md "Racing") the calibrated estimator breaks the first assumption:
  its audit gains power with n at rates that differ between methods, so orders at n = 32
  and at N = 256 disagree. Error bound: if the submission belonged to the top k in
  expectation, one of those k rows would have an expected score at most its own, and
  stopping needs one of the two intervals to miss on its own side: probability at most
  a = error_rate / looks at one look (each interval two-sided at confidence 1 - a), so
  at most error_rate over all looks (Bonferroni).
* ``settled`` (only when ``max_width`` is set): the interval is narrower than
  ``max_width`` and lies below the k-th largest score at n. It trades error for runs:
  such a row may be a near-tie of the k-th; the bound above covers ``out_of_reach``
  alone.

Under ``predicted`` the k rows with the largest lower bounds among those that count
never stop at a round, and a row stopped at one round counts at no other. Under ``equal_n`` and
``both`` the k rows with the best scores at a round never stop at
it (a row above the k-th score can have fewer than k rows whose lower bound exceeds its
upper bound); under ``full_n`` k rows already ran the full N; so at least k rows reach
N, and the published top k is ranked on full-N scores exactly as without racing; a true
top-k row is lost only through the error above. Until the cuts exist (k other rows with
a score at n, or k full-N rows), nothing stops. ``round_score`` scores the first n runs
of each side with the usual scorer. No I/O: the worker and ``bench/`` call the same functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from harness.scoring.prediction import predict as predict_full_n
from harness.scoring.submission import score_submission

__all__ = [
    "Decision",
    "RaceResult",
    "RacingConfig",
    "RoundScore",
    "Rule",
    "board_cut",
    "decide",
    "full_n_estimates",
    "race",
    "race_board",
    "round_score",
]

Rule = Literal["equal_n", "full_n", "both", "predicted"]
RULES: tuple[Rule, ...] = ("equal_n", "full_n", "both", "predicted")
Reason = Literal["full", "out_of_reach", "settled", "contender", "board_not_full"]
Profile = Mapping[int, "RoundScore"]
"""A board row's scores by round size n."""


@dataclass(frozen=True)
class RacingConfig:
    """The organizer's racing settings for a phase.

    top_k: how many leading rows must be exact (scored at the full N).
    first_round: seeds in the first round; each round doubles, the last is N.
    error_rate: the chance, per submission, of stopping one whose expected score at equal
        n reaches one of the top k (see the module docstring).
    max_width: also stop a row below the top k whose interval is narrower than this
        (None: off).
    rule: which comparison may stop a row: "equal_n" (other rows' bounds at the same n;
        sound when the estimator's drift with n is common to all submissions), "full_n"
        (full-N rows' bounds at N; sound when a submission's expected score can only fall
        as n grows), "both" (both must agree; sound when either holds, the default).
    """

    # Read by pydantic where a phase holds these settings (`harness.phase.PhaseConfig.racing`):
    # an unknown key is refused, not dropped. A plain dict: the scorer imports no pydantic.
    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    top_k: int = 5
    first_round: int = 32
    error_rate: float = 0.05
    max_width: float | None = None
    rule: Rule = "both"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}; got {self.rule!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1; got {self.top_k}")
        if self.first_round < 2:
            raise ValueError(f"first_round must be at least 2 seeds; got {self.first_round}")
        if not 0.0 < self.error_rate < 1.0:
            raise ValueError(f"error_rate must lie in (0, 1); got {self.error_rate}")
        if self.max_width is not None and self.max_width <= 0:
            raise ValueError(f"max_width must be positive or None; got {self.max_width}")

    def rounds(self, n_total: int) -> list[int]:
        """Round sizes: first_round doubling, the last one always n_total."""
        if n_total < 2:
            raise ValueError(f"a phase needs at least 2 replicas; got {n_total}")
        sizes, n = [], self.first_round
        while n < n_total:
            sizes.append(n)
            n *= 2
        return [*sizes, n_total]

    def looks(self, n_total: int) -> int:
        """Rounds after which a submission may stop (all but the last)."""
        return len(self.rounds(n_total)) - 1

    def confidence(self, n_total: int) -> float:
        """Two-sided confidence of each round's interval: 1 - error_rate / looks."""
        return 1.0 - self.error_rate / max(1, self.looks(n_total))

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "first_round": self.first_round,
            "error_rate": self.error_rate,
            "max_width": self.max_width,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RacingConfig:
        unknown = set(raw) - {"top_k", "first_round", "error_rate", "max_width", "rule"}
        if unknown:
            raise ValueError(f"unknown racing settings: {', '.join(sorted(unknown))}")
        return cls(**dict(raw))


@dataclass(frozen=True)
class RoundScore:
    """A score at n runs against the reference's first n models, with its interval."""

    n: int
    score: float
    low: float
    high: float

    def __post_init__(self) -> None:
        values = (self.score, self.low, self.high)
        if not all(math.isfinite(value) for value in values):
            raise ValueError(f"round score at n={self.n} must be finite; got {values}")
        if not self.low <= self.score <= self.high:
            raise ValueError(
                f"round score at n={self.n} must lie in its interval; got "
                f"{self.score} not in [{self.low}, {self.high}]"
            )

    def to_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "score": self.score, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RoundScore:
        return cls(
            n=int(raw["n"]),
            score=float(raw["score"]),
            low=float(raw["low"]),
            high=float(raw["high"]),
        )


def round_score(
    *,
    n: int,
    unlearned_confs: np.ndarray,
    retrained_confs: np.ndarray,
    unlearned_retain_acc: np.ndarray,
    retrained_retain_acc: np.ndarray,
    unlearned_test_acc: np.ndarray,
    retrained_test_acc: np.ndarray,
    estimator: str,
    confidence: float,
    n_bootstrap: int = 200,
    seed: int = 0,
    predict: bool = False,
    originals: np.ndarray | None = None,
) -> RoundScore:
    """Final score and bootstrap interval of the first n runs against the first n models.

    Rows of both sides are in seed order, so every submission's round n meets the same
    n reference models. Arrays as in ``score_submission`` ([N, S] and [N]). With
    `predict` (the rule ``predicted``) and n below the reference's N, the score is instead
    the full-N score predicted from the n runs against all N models
    (``harness.scoring.prediction``), with its bootstrap interval. `originals`: [>= n] the
    original each run started from; under K > 1 the interval resamples them too, as the
    final score's does (``score_submission``).
    """
    if n_bootstrap < 1:
        raise ValueError(f"a racing round needs an interval: n_bootstrap >= 1, got {n_bootstrap}")
    for name, values in (
        ("unlearned_confs", unlearned_confs),
        ("retrained_confs", retrained_confs),
    ):
        if np.shape(values)[0] < n:
            raise ValueError(f"{name} has {np.shape(values)[0]} rows; round n={n} needs {n}")
    arrays = {
        "unlearned_confs": unlearned_confs,
        "retrained_confs": retrained_confs,
        "unlearned_retain_acc": unlearned_retain_acc,
        "retrained_retain_acc": retrained_retain_acc,
        "unlearned_test_acc": unlearned_test_acc,
        "retrained_test_acc": retrained_test_acc,
    }
    if predict and n < np.shape(retrained_confs)[0]:
        return _predicted_round(
            n,
            arrays,
            estimator=estimator,
            confidence=confidence,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
    report = score_submission(
        unlearned_confs=unlearned_confs[:n],
        retrained_confs=retrained_confs[:n],
        unlearned_retain_acc=unlearned_retain_acc[:n],
        retrained_retain_acc=retrained_retain_acc[:n],
        unlearned_test_acc=unlearned_test_acc[:n],
        retrained_test_acc=retrained_test_acc[:n],
        estimator=estimator,
        n_bootstrap=n_bootstrap,
        seed=seed,
        confidence=confidence,
        noise_floor=0.0,  # not used by the race; skips its cost
        originals=None if originals is None else np.asarray(originals)[:n],
    )
    assert report.final_score_ci is not None  # n_bootstrap >= 1
    low, high = report.final_score_ci
    return RoundScore(n=n, score=report.final_score, low=low, high=high)


def _predicted_round(
    n: int,
    arrays: Mapping[str, np.ndarray],
    *,
    estimator: str,
    confidence: float,
    n_bootstrap: int,
    seed: int,
) -> RoundScore:
    """The full-N score predicted from the first n runs, percentile interval at confidence."""
    runs = {name: np.asarray(values) for name, values in arrays.items()}
    for name in ("unlearned_confs", "unlearned_retain_acc", "unlearned_test_acc"):
        runs[name] = runs[name][:n]  # the reference keeps all its N models
    score, replicates = predict_full_n(
        runs, estimator=estimator, n_bootstrap=n_bootstrap, seed=seed
    )
    # Resampled runs are noisier than the runs themselves, so the replicates sit below the
    # estimate; their spread, centred on it, is the interval.
    centred = replicates - np.median(replicates) + score
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(centred, [tail, 100.0 - tail])
    low = max(0.0, min(float(low), score))  # no score is negative
    return RoundScore(n=n, score=score, low=low, high=max(float(high), score))


@dataclass(frozen=True)
class Decision:
    """Whether to stop after a round, why, and the bound it was held against."""

    stop: bool
    reason: Reason
    cut: float | None = None  # the k-th largest lower bound of the other rows at this n


def _kth_largest(values: Sequence[float], k: int) -> float | None:
    ordered = sorted(values, reverse=True)
    return ordered[k - 1] if len(ordered) >= k else None


def board_cut(board: Sequence[Profile], *, n: int, top_k: int) -> float | None:
    """The top_k-th largest lower bound at n over the board's rows scored at n.

    None when fewer than top_k rows have a score at n (nothing can be out of reach yet).
    """
    return _kth_largest([row[n].low for row in board if n in row], top_k)


def decide(
    config: RacingConfig, *, current: RoundScore, n_total: int, board: Sequence[Profile]
) -> Decision:
    """Stop or go on after the round that gave `current` (see the module docstring).

    `board`: the profiles of the phase's other rows (this submission excluded), whether
    they ran the full N or stopped early. Which of their scores count: those at
    `current.n` (``equal_n``), at N (``full_n``), both (``both``), or each row's full-N
    estimate (``predicted``, see ``full_n_estimates``).
    """
    if current.n > n_total:
        raise ValueError(f"round n={current.n} exceeds the phase's N={n_total}")
    if current.n == n_total:
        return Decision(stop=False, reason="full")
    if config.rule == "predicted":
        peers = full_n_estimates(board, n=current.n, n_total=n_total)
        cut = _kth_largest([entry.low for entry in peers], config.top_k)
    else:
        peers = [row[current.n] for row in board if current.n in row]
        cuts = []
        if config.rule in ("equal_n", "both"):
            cuts.append(board_cut(board, n=current.n, top_k=config.top_k))
        if config.rule in ("full_n", "both"):
            cuts.append(board_cut(board, n=n_total, top_k=config.top_k))
        cut = None if None in cuts else min(c for c in cuts if c is not None)
    if cut is None:
        return Decision(stop=False, reason="board_not_full")
    if current.high < cut:
        return Decision(stop=True, reason="out_of_reach", cut=cut)
    if config.max_width is not None and current.high - current.low < config.max_width:
        kth_score = _kth_largest([entry.score for entry in peers], config.top_k)
        if kth_score is not None and current.high < kth_score:
            return Decision(stop=True, reason="settled", cut=cut)
    return Decision(stop=False, reason="contender", cut=cut)


def full_n_estimates(board: Sequence[Profile], *, n: int, n_total: int) -> list[RoundScore]:
    """Each row's estimate of its full-N score, for a round-n decision under ``predicted``:
    its score at N where it ran the full N, else its prediction at this same round n (a
    row racing alongside, or one that stopped at n); rows with neither do not count, so a
    row that stopped at an earlier round never holds another back or stops it."""
    estimates = []
    for row in board:
        entry = row.get(n_total, row.get(n))
        if entry is not None:
            estimates.append(entry)
    return estimates


@dataclass(frozen=True)
class RaceResult:
    """One submission's race: its profile (score per round run), where and why it ended."""

    profile: dict[int, RoundScore] = field(repr=False)
    n_used: int
    reason: Reason

    @property
    def provisional(self) -> bool:
        """True when it stopped before the full N (the board marks it with n_used)."""
        return self.reason in ("out_of_reach", "settled")

    @property
    def final(self) -> RoundScore:
        return self.profile[self.n_used]


def race(
    config: RacingConfig,
    *,
    n_total: int,
    score_at: Callable[[int], RoundScore],
    board: Sequence[Profile],
) -> RaceResult:
    """Run one submission's rounds against a fixed board; `score_at(n)` scores n runs.

    The bench calls this on cached runs; the worker makes the same `decide` call between
    chords of shards.
    """
    profile: dict[int, RoundScore] = {}
    for n in config.rounds(n_total):
        current = score_at(n)
        if current.n != n:
            raise ValueError(f"score_at({n}) returned a score at n={current.n}")
        profile[n] = current
        decision = decide(config, current=current, n_total=n_total, board=board)
        if decision.stop or n == n_total:
            return RaceResult(profile=profile, n_used=n, reason=decision.reason)
    raise AssertionError("the last round always ends the race")  # rounds() ends at n_total


def race_board(
    config: RacingConfig,
    *,
    n_total: int,
    score_at: Callable[[str, int], RoundScore],
    names: Sequence[str],
) -> dict[str, RaceResult]:
    """Race submissions that arrive together: every active row runs a round, then each
    decides against all the others' scores at that round.

    `score_at(name, n)` scores the first n runs of one submission.
    """
    profiles: dict[str, dict[int, RoundScore]] = {name: {} for name in names}
    ended: dict[str, RaceResult] = {}
    for n in config.rounds(n_total):
        active = [name for name in names if name not in ended]
        for name in active:
            profiles[name][n] = score_at(name, n)
        for name in active:
            others = [profiles[other] for other in names if other != name]
            decision = decide(config, current=profiles[name][n], n_total=n_total, board=others)
            if decision.stop or n == n_total:
                ended[name] = RaceResult(profile=profiles[name], n_used=n, reason=decision.reason)
    return {name: ended[name] for name in names}
