"""The evaluation report's one shape: `EvaluationReport`, and `FailureReport` for a failed run.

    EvaluationReport.assemble(score, accuracy=..., efficiency=..., ...) -> EvaluationReport
    report.to_json()                        -> dict (what report.json and a result row hold)
    EvaluationReport.model_validate(json)   -> EvaluationReport (what every reader starts with)
    report.efficiency.verdict()             -> the gate's verdict, the one place it is worded

`harness.report.build.build_report` fills it from an evaluation (the dry-run, the worker and
the baselines script all call that); the CLI table (`harness.report.build.summary_rows`),
the pages (`api.pages.format`), the participant CLI (`unlearn.participant`) and the worker's
`too_slow` message read it. Sections, in the JSON:

- the score, at the top level (the API's documented keys): `estimator`, `forget_quality`,
  `final_score`, `forget_quality_ci`, `final_score_ci`, `noise_floor`, `replicas` (the
  phase's N), `n_models` (the runs scored, fewer than N where a race stopped), `n_examples`,
  `n_bootstrap`, `confidence`, `seed`, per-example `epsilons` and `points`;
- `accuracy`: mean retain, forget and test accuracy of the unlearned and retrained models;
- `efficiency`: the gate's numbers (`harness.runs.execute.efficiency_gate`);
- beside the score, never part of it: `mia` (`harness.scoring.mia.secondary_attacks`),
  `secondary` (`harness.scoring.secondary.secondary_metrics`) and `figures`, the place for
  any further figure (each a `Figure`: label, value, interval, one-line reading; every
  renderer shows them without knowing their names);
- `racing` and, under the `predicted` rule, `predicted` and `score_at_n`;
- `provenance`: the code version (harness, git commit, torch) and, for a local dry-run,
  the submission, phase, split, reference, runner, device and stage timings. The server's
  reports leave the phase out: its settings hold the leaderboard splits' seeds.

This module imports pydantic alone (no torch, no numpy), so the API and the participant CLI
read reports without loading the evaluation core. Stored reports of an older shape are
rewritten once by the database migration `0011_report_shape`, so no reader keeps fallbacks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from harness.runs.execute import Efficiency
    from harness.scoring import ScoreReport

__all__ = [
    "Accuracy",
    "Attacks",
    "CodeVersion",
    "EvaluationReport",
    "FailureReport",
    "Figure",
    "Gate",
    "Provenance",
    "Racing",
    "ScoreAtN",
    "SideAccuracy",
]

Interval = tuple[float, float]


class _Section(BaseModel):
    # A key the model does not know is an error: a stale shape fails where it is read.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(BaseModel):
    """One figure beside the score: `value` None (the reason in `reading`) where the
    evaluation lacks what it needs; `interval` a 95% interval or None. Further keys a
    metric carries (`floor`, `p95`, ...) are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: str
    value: float | None
    interval: Interval | None = None
    reading: str = ""


class SideAccuracy(_Section):
    """Mean accuracies over one side's models; `forget` None in reports stored before the
    server kept it."""

    retain: float
    test: float
    forget: float | None = None


class Accuracy(_Section):
    unlearned: SideAccuracy
    retrained: SideAccuracy

    @property
    def retain_ratio(self) -> float:
        return _ratio(self.unlearned.retain, self.retrained.retain)

    @property
    def test_ratio(self) -> float:
        return _ratio(self.unlearned.test, self.retrained.test)


def _ratio(unlearned: float, retrained: float) -> float:
    return unlearned / retrained if retrained else math.inf


class Gate(_Section):
    """The efficiency gate's numbers: the median run against one retraining. `runs`,
    `run_seconds_mean` and `run_seconds_max` are None in reports stored before they were
    kept."""

    run_seconds_median: float
    retrain_seconds: float
    fraction: float  # median run / one retraining
    max_fraction: float  # the phase's limit
    passed: bool
    runs: int | None = None
    run_seconds_mean: float | None = None
    run_seconds_max: float | None = None

    @classmethod
    def of(cls, efficiency: Efficiency) -> Gate:
        return cls(
            run_seconds_median=efficiency.run_seconds_median,
            retrain_seconds=efficiency.retrain_seconds,
            fraction=efficiency.fraction,
            max_fraction=efficiency.max_fraction,
            passed=efficiency.passed,
            runs=efficiency.runs,
            run_seconds_mean=efficiency.run_seconds_mean,
            run_seconds_max=efficiency.run_seconds_max,
        )

    def verdict(self) -> str:
        """The gate's verdict in words: the only place it is written (the CLI table and its
        warning, the pages, the participant CLI and the server's `too_slow` message)."""
        runs = f"median of {self.runs}" if self.runs else "median"
        text = (
            f"a run takes {self.run_seconds_median:.2f} s ({runs}), "
            f"{_percent(self.fraction)} of one retraining ({self.retrain_seconds:.2f} s); "
        )
        if self.passed:
            return text + f"within the gate of {_percent(self.max_fraction)}"
        return (
            text + f"over the gate of {_percent(self.max_fraction)}: the competition rejects "
            "it; make unlearning() faster"
        )


def _percent(value: float) -> str:
    """'20%', or '0.5%' where whole percents would hide the figure ('12.3%')."""
    if not math.isfinite(value):
        return "an unbounded share"
    whole = f"{100 * value:.0f}%"
    return whole if abs(100 * value - round(100 * value)) < 0.05 else f"{100 * value:.1f}%"


class PopulationSide(_Section):
    """The population attack on one side's first models (docs/scoring.md section 7); the
    spread and counts None in reports stored before they were kept."""

    accuracy: float
    accuracy_std: float | None = None
    models: int | None = None
    n_per_class: int | None = None


class Population(PopulationSide):
    retrained: PopulationSide | None = None  # the baseline, about 0.5


class Lira(_Section):
    """Per-example LiRA: its AUC, and TPR at fixed FPRs over `n_scores` scores (both
    absent from reports stored before they were kept)."""

    auc: float
    tpr_at_fpr: dict[str, float] = Field(default_factory=dict)
    n_scores: int | None = None


class Attacks(_Section):
    """The membership-inference attacks beside the score; None where unavailable."""

    lira: Lira | None = None
    population: Population | None = None


class RoundRow(_Section):
    """A race's score at n runs, with its interval (`harness.scoring.racing.RoundScore`)."""

    n: int
    score: float
    low: float
    high: float


class Racing(_Section):
    """Where a race ended (`n` of `n_total` runs), why, and its rounds up to n."""

    n: int
    n_total: int
    provisional: bool
    reason: str
    profile: list[RoundRow] = Field(default_factory=list)


class ScoreAtN(_Section):
    """The score at the n runs a race stopped at, kept when the row is ranked on its
    predicted full-N score."""

    n: int
    final_score: float
    final_score_ci: Interval | None


class OriginalScore(_Section):
    """One original's runs scored against as many retrained models."""

    original: int
    runs: int
    final_score: float | None
    forget_quality: float | None


class Originals(_Section):
    """Under `originals: K` (K > 1): each original's score and their spread
    (`harness.scoring.originals`); beside the pooled score, never part of it."""

    count: int
    scores: list[OriginalScore]
    range: Interval | None = None
    sd: float | None = None
    reading: str = ""


class CodeVersion(_Section):
    harness: str
    git: str | None = None  # the commit, where the code runs from a git checkout
    torch: str | None = None


class SubmissionFile(_Section):
    path: str
    sha256: str | None = None


class ReferenceInfo(_Section):
    key: str
    cached: bool
    retrain_seconds: float


class Provenance(_Section):
    """What produced the report; each part None where the producer does not say."""

    code: CodeVersion | None = None
    submission: SubmissionFile | None = None
    phase: dict[str, Any] | None = None
    split: str | None = None
    sizes: dict[str, int] | None = None
    reference: ReferenceInfo | None = None
    runner: dict[str, Any] | None = None
    device: str | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)


class EvaluationReport(_Section):
    """A scored evaluation of one split (see the module doc for its sections)."""

    status: Literal["scored"] = "scored"
    estimator: str
    forget_quality: float | None  # None only in a migrated report whose row never had it
    final_score: float
    forget_quality_ci: Interval | None = None
    final_score_ci: Interval | None = None
    noise_floor: float | None = None
    replicas: int | None = None
    n_models: int | None = None
    n_examples: int | None = None
    n_bootstrap: int = 0
    confidence: float | None = None
    seed: int | None = None
    epsilons: list[float] = Field(default_factory=list)
    points: list[float] = Field(default_factory=list)
    accuracy: Accuracy | None = None
    efficiency: Gate | None = None
    mia: Attacks = Field(default_factory=Attacks)
    secondary: dict[str, Figure] = Field(default_factory=dict)
    figures: dict[str, Figure] = Field(default_factory=dict)
    originals: Originals | None = None  # None under one original (the 2023 rule)
    racing: Racing | None = None
    predicted: bool = False
    score_at_n: ScoreAtN | None = None
    provenance: Provenance = Field(default_factory=Provenance)

    @classmethod
    def assemble(
        cls,
        score: ScoreReport,
        *,
        efficiency: Efficiency,
        replicas: int,
        forget_accuracy: tuple[float, float] | None = None,
        mia: dict[str, Any] | None = None,
        secondary: dict[str, Any] | None = None,
        originals: dict[str, Any] | None = None,
        provenance: Provenance | None = None,
    ) -> EvaluationReport:
        """The report of a scored evaluation, from the scorer's `ScoreReport` (with its mean
        retain and test accuracies), the gate's `Efficiency` and the mean forget accuracy
        (unlearned, retrained): the one constructor `build_report` and the test factories
        use."""
        scored = score.to_dict()
        forget_u, forget_r = forget_accuracy or (None, None)
        return cls(
            estimator=score.estimator,
            forget_quality=scored["forget_quality"],
            final_score=scored["final_score"],
            forget_quality_ci=scored["forget_quality_ci"],
            final_score_ci=scored["final_score_ci"],
            noise_floor=scored["noise_floor"],
            replicas=replicas,
            n_models=score.n_models,
            n_examples=score.n_examples,
            n_bootstrap=score.n_bootstrap,
            confidence=score.confidence,
            seed=score.seed,
            epsilons=scored["epsilons"],
            points=scored["points"],
            accuracy=Accuracy(
                unlearned=SideAccuracy(
                    retain=scored["unlearned_retain_acc"],
                    test=scored["unlearned_test_acc"],
                    forget=forget_u,
                ),
                retrained=SideAccuracy(
                    retain=scored["retrained_retain_acc"],
                    test=scored["retrained_test_acc"],
                    forget=forget_r,
                ),
            ),
            efficiency=Gate.of(efficiency),
            mia=Attacks.model_validate(mia or {}),
            secondary={name: Figure.model_validate(e) for name, e in (secondary or {}).items()},
            originals=Originals.model_validate(originals) if originals else None,
            provenance=provenance or Provenance(),
        )

    @property
    def eligible(self) -> bool:
        """Whether its runs passed the efficiency gate (a report without gate figures,
        stored before they were kept, was eligible: it reached the board)."""
        return self.efficiency is None or self.efficiency.passed

    @property
    def beside_score(self) -> dict[str, Figure]:
        """Every figure beside the score that is not an attack under `mia`: the secondary
        metrics, then the extra figures, by name."""
        return {**self.secondary, **self.figures}

    def with_racing(self, racing: Racing | None) -> EvaluationReport:
        return self.model_copy(update={"racing": racing})

    def on_full_n_scale(self, predicted: RoundRow) -> EvaluationReport:
        """The report ranked on a race's predicted full-N score (the `predicted` rule), its
        own score at n kept as `score_at_n`."""
        return self.model_copy(
            update={
                "score_at_n": ScoreAtN(
                    n=predicted.n, final_score=self.final_score, final_score_ci=self.final_score_ci
                ),
                "final_score": predicted.score,
                "final_score_ci": (predicted.low, predicted.high),
                "predicted": True,
            }
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: what report.json and a result row hold."""
        return self.model_dump(mode="json")


class FailureDetails(_Section):
    category: str
    message: str
    traceback: str = ""


class FailureReport(_Section):
    """A local run that failed: what to show its author (the server records failures on the
    submission instead)."""

    status: Literal["failed"] = "failed"
    submission: SubmissionFile
    error: FailureDetails
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def eligible(self) -> bool:
        return False

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
