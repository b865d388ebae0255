"""The evaluation report from an evaluation, the CLI's summary of it, the report files.

    build_report(prepared=, unlearned=, result=, efficiency=, ...) -> EvaluationReport
    dry_run_provenance(submission=, prepared=, runner=, device=, timings=) -> Provenance
    failure_report(error, submission=)  -> FailureReport  (status "failed")
    summary_rows(report)                -> [(label, value)] for the CLI's table
    write_report(report, out_dir)       -> out_dir/report.json
    code_version()                      -> CodeVersion (harness, git commit, torch)

`build_report` is the one builder: `harness.pipeline.dry_run`, the worker's scoring
(`worker.harness_backend`) and `starting_kit/make_baselines.py` call it. The shape is
`harness.report.schema.EvaluationReport`. Under `originals: K` the report's `originals`
section holds each original's score and their spread (`harness.scoring.originals`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from harness import __version__
from harness.errors import SubmissionError
from harness.evaluate import Evaluation
from harness.report.schema import (
    CodeVersion,
    EvaluationReport,
    FailureDetails,
    FailureReport,
    Originals,
    Population,
    PopulationSide,
    Provenance,
    ReferenceInfo,
    SubmissionFile,
)
from harness.report.secondary import secondary_report, secondary_rows
from harness.runs.execute import Efficiency
from harness.runs.sandbox.base import Runner
from harness.scoring import ScoreReport
from harness.scoring.mia import secondary_attacks
from harness.scoring.originals import per_original

if TYPE_CHECKING:
    from harness.reference.cache import Prepared

__all__ = [
    "build_report",
    "code_version",
    "dry_run_provenance",
    "failure_report",
    "originals_report",
    "summary_rows",
    "write_report",
]

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding harness/


@functools.cache
def code_version() -> CodeVersion:
    """The code that produced a report: the harness's version, the git commit of the
    checkout it runs from (None for an installed copy or an image without `.git`), torch."""
    return CodeVersion(harness=__version__, git=_git_commit(SOURCE_ROOT), torch=torch.__version__)


def _git_commit(root: Path) -> str | None:
    if not (root / ".git").exists():  # else git would answer for an enclosing repository
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _file_sha256(path: Path) -> str:
    path = Path(path)
    files = sorted(p for p in path.rglob("*.py")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def originals_report(
    prepared: Prepared, unlearned: Evaluation, *, seeds: Sequence[int] | np.ndarray
) -> dict[str, Any] | None:
    """Each original's score and their spread (`harness.scoring.originals`); None when the
    phase has one original. `seeds`: the run seed of each unlearned row."""
    retrained = prepared.reference.evaluation
    return per_original(
        seeds=seeds,
        originals=prepared.phase.originals,
        unlearned_confs=unlearned.forget_confs,
        retrained_confs=retrained.forget_confs,
        unlearned_retain_acc=unlearned.retain_acc,
        retrained_retain_acc=retrained.retain_acc,
        unlearned_test_acc=unlearned.test_acc,
        retrained_test_acc=retrained.test_acc,
        estimator=prepared.phase.estimator,
    )


def build_report(
    *,
    prepared: Prepared,
    unlearned: Evaluation,
    result: ScoreReport,
    efficiency: Efficiency,
    provenance: Provenance | None = None,
    with_attacks: bool = True,
    seeds: Sequence[int] | np.ndarray | None = None,
) -> EvaluationReport:
    """The report of one split's scored runs: the score, accuracies (both sides), the gate,
    the attacks and secondary metrics beside the score (`with_attacks=False` skips them,
    for a caller that only ranks), each original's score under `originals: K` (`seeds`: the
    run seed of each unlearned row, default 0..n-1), and `provenance` with the code version
    filled in.

    `prepared` is the phase as scored: its reference cut to the runs' number of models."""
    reference = prepared.reference
    attacks = secondary = None
    if with_attacks:
        attacks = secondary_attacks(
            unlearned.forget_confs,
            reference.evaluation.forget_confs,
            unlearned_test_losses=unlearned.test_losses,
            retrained_test_losses=reference.evaluation.test_losses,
        )
        secondary = secondary_report(unlearned, reference, attacks=attacks)
    provenance = provenance or Provenance()
    return EvaluationReport.assemble(
        result,
        efficiency=efficiency,
        forget_accuracy=(
            float(np.mean(unlearned.forget_acc)),
            float(np.mean(reference.evaluation.forget_acc)),
        ),
        replicas=prepared.phase.replicas,
        mia=attacks,
        secondary=secondary,
        originals=originals_report(
            prepared, unlearned, seeds=range(unlearned.n_models) if seeds is None else seeds
        ),
        provenance=provenance.model_copy(update={"code": code_version()}),
    )


def dry_run_provenance(
    *,
    submission: Path,
    prepared: Prepared,
    runner: Runner,
    device: str,
    timings: dict[str, float],
) -> Provenance:
    """Everything about a local run: the submission's file, the phase (a local phase: its
    seeds are the participant's own), the split, the reference, runner, device and the
    stage timings. Never for the server's splits, whose phase holds secret seeds."""
    reference = prepared.reference
    return Provenance(
        code=code_version(),
        submission=SubmissionFile(path=str(submission), sha256=_file_sha256(submission)),
        phase=prepared.phase.to_dict(),
        split=prepared.splits.split,
        sizes=prepared.splits.sizes(),
        reference=ReferenceInfo(
            key=reference.key, cached=reference.cached, retrain_seconds=reference.retrain_seconds
        ),
        runner=runner.describe(),
        device=device,
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def failure_report(error: SubmissionError, *, submission: Path) -> FailureReport:
    """The report of a submission whose runs failed: what to show its author."""
    return FailureReport(
        submission=SubmissionFile(path=str(submission)),
        error=FailureDetails(
            category=error.category, message=error.message, traceback=error.log_excerpt
        ),
        provenance=Provenance(code=code_version()),
    )


def summary_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    """Label/value pairs for a person: the scores first, then utility and efficiency, then
    the attacks and figures beside the score."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    ci = report.forget_quality_ci
    ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""
    rows = [
        ("estimator", report.estimator),
        ("replicas per side", str(report.replicas)),
        ("forget quality F", _four(report.forget_quality) + ci_text),
        (
            "noise floor (retrained vs retrained)",
            "too few replicas to measure"
            if report.noise_floor is None
            else _four(report.noise_floor),
        ),
        ("final score", _four(report.final_score)),
    ]
    if report.accuracy is not None:
        u, r = report.accuracy.unlearned, report.accuracy.retrained
        rows += [
            ("retain acc unlearned / retrained", f"{pct(u.retain)} / {pct(r.retain)}"),
            ("forget acc unlearned / retrained", f"{pct(u.forget)} / {pct(r.forget)}"),
            ("test acc unlearned / retrained", f"{pct(u.test)} / {pct(r.test)}"),
        ]
    if report.efficiency is not None:
        gate = report.efficiency
        rows.append(
            ("efficiency gate", ("passed: " if gate.passed else "FAILED: ") + gate.verdict())
        )
    rows += _originals_rows(report.originals)
    if report.provenance.reference is not None:
        rows.append(
            ("reference", "cached" if report.provenance.reference.cached else "trained now")
        )
    population, lira = report.mia.population, report.mia.lira
    rows += [
        (
            "population attack accuracy unlearned / retrained (beside the score, 0.5 = no trace)",
            _population_text(population),
        ),
        (
            "LiRA attack AUC (beside the score, 0.5 = no trace)",
            "too few replicas" if lira is None else f"{lira.auc:.3f}",
        ),
        *(
            row
            for row in secondary_rows(report)
            if not row[0].startswith(("Per-example LiRA", "Population MIA"))  # shown above
        ),
    ]
    return rows


def _originals_rows(originals: Originals | None) -> list[tuple[str, str]]:
    """One row under K originals: each original's final score, their range and sd."""
    if originals is None:
        return []
    scores = ", ".join(_three(row.final_score) for row in originals.scores)
    if originals.range is not None:
        low, high = originals.range
        sd = "" if originals.sd is None else f", sd {originals.sd:.3f}"
        scores += f" (range {low:.3f}-{high:.3f}{sd})"
    return [(f"score per original ({originals.count} originals, N/K runs each)", scores)]


def _three(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _four(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _population_text(population: Population | None) -> str:
    """'0.612 ± 0.020 / 0.503 ± 0.015 (8 models, 100 per class)', or why there is none."""
    if population is None:
        return "unavailable (no test-set losses, or too few examples)"

    def side(result: PopulationSide | None) -> str:
        if result is None:
            return "unavailable"
        spread = "" if result.accuracy_std is None else f" ± {result.accuracy_std:.3f}"
        return f"{result.accuracy:.3f}{spread}"

    return (
        f"{side(population)} / {side(population.retrained)} "
        f"({population.models} models, {population.n_per_class} per class)"
    )


def write_report(report: EvaluationReport | FailureReport, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report.to_json(), indent=2))
    return path
