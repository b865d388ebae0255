"""The evaluation report: one JSON-able dict, the summary a person reads, the files.

    build_report(...)          -> dict   (status "scored")
    failure_report(error, ...) -> dict   (status "failed": category, message, traceback)
    summary_rows(report)       -> [(label, value)] for the CLI's table
    write_report(report, out_dir) -> out_dir/report.json

Keys every consumer may rely on: status, forget_quality, final_score, noise_floor,
estimator, replicas, epsilons, accuracy.{unlearned,retrained}.{retain,forget,test},
efficiency.{run_seconds_median, retrain_seconds, fraction, max_fraction, passed, message},
mia.{lira, population} (beside the score, never part of it; see
`harness.scoring.mia.secondary_attacks`; each None when unavailable), and
secondary.{tow, klom_forget, klom_retain, retain_drift, lira_auc, population}, each
{label, value, interval, reading} (beside the score; value None when unavailable; see
`harness.report.secondary`), and originals (None under one original; with `originals: K`
each original's score and their range and sd, `harness.scoring.originals`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from harness import __version__
from harness.errors import SubmissionError
from harness.evaluate import Evaluation
from harness.report.secondary import secondary_report, secondary_rows
from harness.runs.execute import Efficiency
from harness.runs.sandbox.base import Runner
from harness.scoring import ScoreReport
from harness.scoring.mia import secondary_attacks
from harness.scoring.originals import per_original

if TYPE_CHECKING:
    from harness.reference.cache import Prepared

__all__ = ["build_report", "failure_report", "originals_report", "summary_rows", "write_report"]


def _file_sha256(path: Path) -> str:
    path = Path(path)
    files = sorted(p for p in path.rglob("*.py")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _mean_accuracies(evaluation: Evaluation) -> dict[str, float]:
    return {
        "retain": float(np.mean(evaluation.retain_acc)),
        "forget": float(np.mean(evaluation.forget_acc)),
        "test": float(np.mean(evaluation.test_acc)),
    }


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
    submission: Path,
    prepared: Prepared,
    result: ScoreReport,
    unlearned: Evaluation,
    efficiency: Efficiency,
    runner: Runner,
    device: str,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The report a person or the worker stores: scores, accuracies, efficiency, provenance."""
    reference = prepared.reference
    scored = result.to_dict()
    attacks = secondary_attacks(
        unlearned.forget_confs,
        reference.evaluation.forget_confs,
        unlearned_test_losses=unlearned.test_losses,
        retrained_test_losses=reference.evaluation.test_losses,
    )
    return {
        "status": "scored",
        "eligible": efficiency.passed,
        "verdict": (
            "scored"
            if efficiency.passed
            else "scored, but FAILS the efficiency gate: " + efficiency.message
        ),
        "submission": {"path": str(submission), "sha256": _file_sha256(submission)},
        "estimator": result.estimator,
        "replicas": prepared.phase.replicas,
        "forget_quality": result.forget_quality,
        "final_score": result.final_score,
        "noise_floor": result.noise_floor,
        "forget_quality_ci": scored.get("forget_quality_ci"),
        "final_score_ci": scored.get("final_score_ci"),
        "epsilons": scored["epsilons"],
        "points": scored.get("points"),
        "accuracy": {
            "unlearned": _mean_accuracies(unlearned),
            "retrained": _mean_accuracies(reference.evaluation),
        },
        "efficiency": efficiency.to_dict(),
        # Beside the score, never part of it.
        "mia": attacks,
        "secondary": secondary_report(unlearned, reference, attacks=attacks),
        "originals": originals_report(prepared, unlearned, seeds=range(unlearned.n_models)),
        "score_details": {k: v for k, v in scored.items() if k not in ("epsilons", "points")},
        "phase": prepared.phase.to_dict(),
        "split": prepared.splits.split,
        "sizes": prepared.splits.sizes(),
        "reference": {
            "key": reference.key,
            "cached": reference.cached,
            "retrain_seconds": reference.retrain_seconds,
        },
        "runner": runner.describe(),
        "device": device,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "versions": {"harness": __version__, "torch": torch.__version__},
    }


def failure_report(error: SubmissionError, *, submission: Path) -> dict[str, Any]:
    """The report of a submission whose runs failed: what to show its author."""
    return {
        "status": "failed",
        "eligible": False,
        "submission": {"path": str(submission)},
        "error": {
            "category": error.category,
            "message": error.message,
            "traceback": error.log_excerpt,
        },
        "versions": {"harness": __version__, "torch": torch.__version__},
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Label/value pairs for a person: the scores first, then utility and efficiency, then
    the secondary metrics (beside the score)."""
    acc = report["accuracy"]
    eff = report["efficiency"]

    def pct(value: float) -> str:
        return f"{100 * value:.1f}%"

    ci = report.get("forget_quality_ci")
    ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci and ci[0] is not None else ""
    return [
        ("estimator", str(report["estimator"])),
        ("replicas per side", str(report["replicas"])),
        ("forget quality F", f"{report['forget_quality']:.4f}{ci_text}"),
        (
            "noise floor (retrained vs retrained)",
            "too few replicas to measure"
            if report["noise_floor"] is None
            else f"{report['noise_floor']:.4f}",
        ),
        ("final score", f"{report['final_score']:.4f}"),
        (
            "retain acc unlearned / retrained",
            f"{pct(acc['unlearned']['retain'])} / {pct(acc['retrained']['retain'])}",
        ),
        (
            "forget acc unlearned / retrained",
            f"{pct(acc['unlearned']['forget'])} / {pct(acc['retrained']['forget'])}",
        ),
        (
            "test acc unlearned / retrained",
            f"{pct(acc['unlearned']['test'])} / {pct(acc['retrained']['test'])}",
        ),
        (
            "run time (median) / one retraining",
            f"{eff['run_seconds_median']:.2f} s / "
            f"{eff['retrain_seconds']:.2f} s = {pct(eff['fraction'])}",
        ),
        (
            "efficiency gate",
            ("passed" if eff["passed"] else "FAILED") + f" (limit {pct(eff['max_fraction'])})",
        ),
        ("reference", "cached" if report["reference"]["cached"] else "trained now"),
        *_originals_rows(report.get("originals")),
        (
            "population attack accuracy unlearned / retrained (beside the score, 0.5 = no trace)",
            _population_text((report.get("mia") or {}).get("population")),
        ),
        (
            "LiRA attack AUC (beside the score, 0.5 = no trace)",
            "too few replicas"
            if not (report.get("mia") or {}).get("lira")
            else f"{report['mia']['lira']['auc']:.3f}",
        ),
        *(
            row
            for row in secondary_rows(report)
            if not row[0].startswith(("Per-example LiRA", "Population MIA"))  # shown above
        ),
    ]


def _originals_rows(originals: dict[str, Any] | None) -> list[tuple[str, str]]:
    """One row under K originals: each original's final score, their range and sd."""
    if not originals:
        return []
    scores = ", ".join(
        "-" if row["final_score"] is None else f"{row['final_score']:.3f}"
        for row in originals["scores"]
    )
    spread = originals["range"]
    text = scores if spread is None else f"{scores} (range {spread[0]:.3f}-{spread[1]:.3f}"
    if spread is not None:
        text += "" if originals["sd"] is None else f", sd {originals['sd']:.3f}"
        text += ")"
    return [(f"score per original ({originals['count']} originals, N/K runs each)", text)]


def _population_text(population: dict[str, Any] | None) -> str:
    """'0.612 ± 0.020 / 0.503 ± 0.015 (8 models, 100 per class)', or why there is none."""
    if not population:
        return "unavailable (no test-set losses, or too few examples)"

    def side(result: dict[str, Any] | None) -> str:
        if not result:
            return "unavailable"
        return f"{result['accuracy']:.3f} ± {result['accuracy_std']:.3f}"

    return (
        f"{side(population)} / {side(population.get('retrained'))} "
        f"({population['models']} models, {population['n_per_class']} per class)"
    )


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2, default=_json_default))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
