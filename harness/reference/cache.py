"""The phase's fixed side: the original model and the retrained reference, cached on disk.

    prepare_reference(phase, splits, cache_dir=...) -> Reference

The original models (one per phase under the 2023 rule, K with `originals: K`; trained on all
of train by `originals.py`) are keyed by what they depend on: data content, train/val/test
cut, architecture, recipe and seed; they do not depend on the forget split, so the public
and private leaderboards share them. The reference
(N models retrained from scratch on retain, seeds 0..N-1) is reduced to what scoring needs:
forget-set logits and confidences in the fixed order, retain/forget/test accuracy per
model, the wall time of one retraining (the efficiency gate's unit) and, once computed,
the noise floor of each estimator. The originals' own evaluation on the same split (one
row per original: retain-sample margins and test losses, for the retain-set drift reported
beside the score) is kept beside it; a reference cached before it was kept gets it on its
next load (one forward pass, no training). A second evaluation on the same phase trains
nothing.

Layout under cache_dir:
    originals/<key>/original.safetensors, meta.json
    references/<key>/reference.npz, original.npz (original-<k>.npz), meta.json, noise_floor.json
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data import LabelledData, Splits
from harness.evaluate import Evaluation, evaluate_states
from harness.models import ModelSpec
from harness.phase import PhaseConfig, stable_hash
from harness.reference.originals import CACHE_VERSION, original_index, prepare_originals
from harness.reference.train import TrainData, replica_trainer, train_model, train_replicas
from harness.scoring import get_estimator
from harness.scoring import noise_floor as estimator_noise_floor

__all__ = [
    "CACHE_VERSION",
    "Reference",
    "StageProgress",
    "cached_noise_floor",
    "model_spec_for",
    "prepare_reference",
    "torch_threads",
]

logger = logging.getLogger(__name__)


StageProgress = Callable[[str, int, int], None]
"""Called with (stage, done, total): stages "original", "retrain-timing", "reference",
"reference-eval"."""


def model_spec_for(phase: PhaseConfig, data: LabelledData) -> ModelSpec:
    """The phase's architecture shaped for `data`."""
    return ModelSpec(
        name=phase.model,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        hidden=phase.hidden,
    )


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with `threads` intra-op threads (None: leave as is), then restore."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True, eq=False)
class Reference:
    """Everything a submission's runs are compared with, for one phase and split."""

    key: str
    directory: Path
    original: dict[str, torch.Tensor]
    evaluation: Evaluation  # of the N retrained models
    retrain_seconds: float  # one retraining, timed alone with the runs' thread count
    meta: dict[str, Any]
    cached: bool  # True when nothing had to be trained
    original_evaluation: Evaluation | None = None  # of the K originals (rows), on this split
    originals: tuple[dict[str, torch.Tensor], ...] = ()  # K >= 1; `original` is the first

    def original_for(self, seed: int) -> dict[str, torch.Tensor]:
        """The weights run `seed` unlearns from: original seed mod K (the 2023 rule: one)."""
        if not self.originals:
            return self.original
        return self.originals[original_index(seed, len(self.originals))]


@dataclass(frozen=True, eq=False)
class Prepared:
    """A phase ready to evaluate submissions: its splits, model spec and reference."""

    phase: PhaseConfig
    splits: Splits
    spec: ModelSpec
    reference: Reference


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    _atomic_write(path, json.dumps(value, indent=2, sort_keys=True).encode())


def _reference_key(phase: PhaseConfig, splits: Splits, *, trainer: str) -> str:
    # The trainer enters the key only where it is the one added last (`alone`), so that the
    # keys of references trained stacked or vmapped stay what they were.
    how = {"trainer": trainer} if trainer == "alone" else {}
    return stable_hash(
        {
            "version": CACHE_VERSION,
            "phase": phase.reference_key(splits.split),
            "splits": splits.fingerprint(),
            **how,
        }
    )


def _original_evaluation(
    directory: Path,
    spec: ModelSpec,
    originals: Sequence[dict[str, torch.Tensor]],
    splits: Splits,
    *,
    device: str,
) -> Evaluation:
    """The originals' evaluation on this split, one row per original, each cached in the
    reference's folder (`original.npz` for original 0, `original-<k>.npz` after it; the
    reference key covers the original's key and the split, and original k's seed follows)."""
    rows = []
    for index, state in enumerate(originals):
        path = directory / ("original.npz" if index == 0 else f"original-{index}.npz")
        if path.is_file():
            with np.load(path, allow_pickle=False) as arrays:
                rows.append(Evaluation.from_arrays(dict(arrays)))
            continue
        evaluation = evaluate_states(spec, [state], splits, device=device)
        buffer = io.BytesIO()
        np.savez(buffer, **evaluation.to_arrays())  # type: ignore[arg-type]
        _atomic_write(path, buffer.getvalue())
        rows.append(evaluation)
    if len(rows) == 1:
        return rows[0]
    arrays = [row.to_arrays() for row in rows]
    return Evaluation.from_arrays(
        {name: np.concatenate([a[name] for a in arrays]) for name in arrays[0]}
    )


def prepare_reference(
    phase: PhaseConfig,
    splits: Splits,
    *,
    cache_dir: Path,
    device: str = "cpu",
    run_threads: int = 1,
    progress: StageProgress | None = None,
) -> Reference:
    """Load the phase's original model and reference outputs, training what is missing."""
    report: StageProgress = progress or (lambda stage, done, total: None)
    spec = model_spec_for(phase, splits.data)
    cache_dir = Path(cache_dir)
    originals, _ = prepare_originals(
        phase, splits, spec, cache_dir=cache_dir, device=device, progress=report
    )
    key = _reference_key(phase, splits, trainer=replica_trainer(spec, device))
    directory = cache_dir / "references" / key
    if (directory / "reference.npz").is_file() and (directory / "meta.json").is_file():
        with np.load(directory / "reference.npz", allow_pickle=False) as arrays:
            evaluation = Evaluation.from_arrays(dict(arrays))
        meta = json.loads((directory / "meta.json").read_text())
        return Reference(
            key,
            directory,
            originals[0],
            evaluation,
            float(meta["retrain_seconds"]),
            meta,
            True,
            _original_evaluation(directory, spec, originals, splits, device=device),
            tuple(originals),
        )

    retain = TrainData(*splits.tensors("retain"), splits.data.num_classes)
    started = time.perf_counter()
    # Seed 0 is trained alone, with the runs' thread count and through the same kind of
    # loader a submission gets: its wall time is "one retraining" for the efficiency gate.
    with torch_threads(run_threads):
        first, retrain_seconds = train_model(
            spec,
            phase.recipe,
            retain,
            seed=0,
            device=device,
            progress=lambda done, total: report("retrain-timing", done, total),
        )
    others = train_replicas(
        spec,
        phase.recipe,
        retain,
        seeds=range(1, phase.replicas),
        device=device,
        progress=lambda done, total: report("reference", done, total),
    )
    train_seconds = time.perf_counter() - started
    evaluation = evaluate_states(
        spec,
        [first, *others],
        splits,
        device=device,
        progress=lambda done, total: report("reference-eval", done, total),
    )
    buffer = io.BytesIO()
    np.savez(buffer, **evaluation.to_arrays())  # type: ignore[arg-type]
    _atomic_write(directory / "reference.npz", buffer.getvalue())
    meta = {
        "phase": phase.to_dict(),
        "split": splits.split,
        "sizes": splits.sizes(),
        "spec": spec.to_json(),
        "retrain_seconds": retrain_seconds,
        "retrain_threads": run_threads,
        "reference_train_seconds": train_seconds,
        "device": device,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(directory / "meta.json", meta)
    logger.info("reference %s: %d models in %.1f s", key[:12], phase.replicas, train_seconds)
    return Reference(
        key,
        directory,
        originals[0],
        evaluation,
        retrain_seconds,
        meta,
        False,
        _original_evaluation(directory, spec, originals, splits, device=device),
        tuple(originals),
    )


def cached_noise_floor(reference: Reference, *, estimator: str, seed: int = 0) -> float | None:
    """The estimator's noise floor on this reference (retrained vs retrained), cached.

    None when the reference is too small to split into two halves the estimator can score.
    """
    n_models = reference.evaluation.forget_confs.shape[0]
    if n_models // 2 < get_estimator(estimator).min_models:
        return None
    path = reference.directory / "noise_floor.json"
    floors: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}
    name = f"{estimator}:{seed}"
    if name not in floors:
        floors[name] = float(
            estimator_noise_floor(reference.evaluation.forget_confs, estimator=estimator, seed=seed)
        )
        _write_json(path, floors)
    return floors[name]
