"""One metric-lab run on a phase: populations, probes, trials, the table.

    metric_lab(phase, cache_dir=..., split="dev", models=16, ensemble=8, trials=16) -> dict

Prepares the phase (its reference models, cached as for any evaluation), trains `models`
originals and `models` held-out retrained replicas (`populations`), evaluates both as
trained, after `relearn` and after `quantize`, then runs `trials` trials: each draws
`ensemble` reference models from the phase's N and `ensemble` models of each population,
and records every metric's badness for both populations under the three conditions
(`faithfulness.badness`). The returned dict holds the settings, the table
(`faithfulness.lab_table`) and the per-trial values; it is JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.evaluate import Evaluation, evaluate_states
from harness.lab.faithfulness import (
    CONDITIONS,
    LAB_METRICS,
    badness,
    lab_table,
    population_accuracies,
)
from harness.lab.populations import populations, quantize, relearn, relearn_steps
from harness.phase import PhaseConfig, SplitName
from harness.pipeline import prepare_phase
from harness.scoring.estimators import ESTIMATORS

__all__ = ["metric_lab"]

Progress = Callable[[str, int, int], None]
POPULATIONS = ("original", "held_out")


def _rows(evaluation: Evaluation, index: np.ndarray) -> Evaluation:
    return Evaluation.from_arrays({k: v[index] for k, v in evaluation.to_arrays().items()})


def metric_lab(
    phase: PhaseConfig,
    *,
    cache_dir: Path,
    split: SplitName = "dev",
    models: int = 16,
    ensemble: int = 8,
    trials: int = 16,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Faithfulness and robustness of every estimator and secondary metric on `phase`."""
    report: Progress = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    prepared = prepare_phase(
        phase, split=split, cache_dir=cache_dir, device=device, progress=report
    )
    reference = prepared.reference.evaluation
    size = min(ensemble, models, reference.n_models)
    minimum = max(estimator.min_models for estimator in ESTIMATORS.values())
    if size < minimum:
        raise ValueError(
            f"the lab compares ensembles of {size} models, below the {minimum} the "
            f"estimators need: raise replicas, models and ensemble to at least {minimum}"
        )
    pops = populations(prepared, count=models, cache_dir=cache_dir, device=device, progress=report)
    k = steps if steps is not None else relearn_steps(prepared.splits, phase.recipe)
    weights = {"original": pops.originals, "held_out": pops.held_out}
    evaluations: dict[str, dict[str, Evaluation]] = {c: {} for c in CONDITIONS}
    for done, (name, states) in enumerate(weights.items()):
        report("lab-probes", done, len(weights))
        variants = {
            "clean": states,
            "relearn": relearn(
                prepared.spec,
                states,
                prepared.splits,
                phase.recipe,
                steps=k,
                seed=seed,
                device=device,
            ),
            "quantize": quantize(states),
        }
        for condition, variant in variants.items():
            evaluations[condition][name] = evaluate_states(
                prepared.spec, variant, prepared.splits, device=device
            )
    report("lab-probes", len(weights), len(weights))
    attack = {
        c: {p: population_accuracies(evaluations[c][p], seed=seed) for p in POPULATIONS}
        for c in CONDITIONS
    }
    rng = np.random.default_rng([seed, 0x1AB])
    values: dict[str, dict[str, dict[str, list[float]]]] = {
        c: {p: {m: [] for m in LAB_METRICS} for p in POPULATIONS} for c in CONDITIONS
    }
    original = prepared.reference.original_evaluation
    for trial in range(trials):
        report("lab-trials", trial, trials)
        compared = _rows(reference, rng.choice(reference.n_models, size, replace=False))
        chosen = {p: rng.choice(models, size, replace=False) for p in POPULATIONS}
        for condition in CONDITIONS:
            for population in POPULATIONS:
                index = chosen[population]
                result = badness(
                    _rows(evaluations[condition][population], index),
                    compared,
                    original,
                    population=attack[condition][population][index],
                    seed=seed + trial,
                )
                for metric, value in result.items():
                    values[condition][population][metric].append(value)
    report("lab-trials", trials, trials)
    return {
        "phase": phase.to_dict(),
        "split": split,
        "sizes": prepared.splits.sizes(),
        "replicas": reference.n_models,
        "models": models,
        "ensemble": size,
        "trials": trials,
        "relearn_steps": k,
        "held_out_seeds": pops.held_out_seeds,
        "seed": seed,
        "table": lab_table(values),
        "values": values,
        "seconds": round(time.perf_counter() - started, 1),
    }
