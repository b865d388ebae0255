"""The phase's original models: K of them, each trained on all of train with its own seed.

    prepare_originals(phase, splits, spec, cache_dir=..., count=K) -> ([state dict] * K, cached)
    original_index(seed, count)                                    -> which original a run uses

The 2023 competition unlearned one original model N times; Lanyon et al. (arXiv 2510.26714)
show that this can be highly non-representative, most of all for deterministic methods,
whose N runs then give one output. A phase's `originals: K` trains K originals, seeds
`original_seed + k`, and run i starts from original i mod K (`original_index`), so the N
runs are spread evenly over them; the retrained side does not change.

Original 0 is the 2023 rule's single original: trained alone by `train_model`, keyed by
what it depends on (data content, train/val/test cut, architecture, recipe, seed) and
cached under the same key as before K existed, so K = 1 trains, caches and scores exactly
what it did. Original k is keyed the same way with its own seed, so phases that differ
only in K share their originals. Originals 1..K-1 missing from the cache are trained
together as one batched ensemble (`train_replicas`; equal to training each alone up to
float rounding), since K single trainings would cost K times the original's wall time.

Layout under cache_dir: originals/<key>/original.safetensors, meta.json (one per original).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from harness.checkpoint import load_weights, save_weights
from harness.data import Splits
from harness.models import ModelSpec
from harness.phase import PhaseConfig, stable_hash
from harness.reference.train import TrainData, train_model, train_replicas

__all__ = ["CACHE_VERSION", "original_index", "prepare_originals"]

CACHE_VERSION = 2  # bump when training or evaluation code changes what a key produces
# 2: the batched reference ensembles step with the fused optimizers (rounding differs)

StageProgress = Callable[[str, int, int], None]


def original_index(seed: int, count: int) -> int:
    """The original that the run seeded `seed` unlearns from: seed mod K."""
    return int(seed) % max(1, int(count))


def original_seed(phase: PhaseConfig, index: int) -> int:
    return phase.original_seed + index


def _key(phase: PhaseConfig, splits: Splits, index: int) -> str:
    seeded = phase.with_(original_seed=original_seed(phase, index), originals=1)
    return stable_hash(
        {
            "version": CACHE_VERSION,
            "phase": seeded.original_key(),
            "data": splits.data.fingerprint(),
            "train": stable_hash(splits.train.tolist()),
        }
    )


def _store(directory: Path, state: dict[str, torch.Tensor], meta: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(state, directory / ".original.tmp")
    os.replace(directory / ".original.tmp", directory / "original.safetensors")
    text = json.dumps(meta, indent=2, sort_keys=True)
    (directory / ".meta.tmp").write_text(text)
    os.replace(directory / ".meta.tmp", directory / "meta.json")


def prepare_originals(
    phase: PhaseConfig,
    splits: Splits,
    spec: ModelSpec,
    *,
    cache_dir: Path,
    count: int | None = None,
    device: str = "cpu",
    progress: StageProgress | None = None,
) -> tuple[list[dict[str, torch.Tensor]], bool]:
    """The first `count` originals (default: the phase's K) in index order, trained where
    missing; the flag is True when every one came from the cache."""
    report: StageProgress = progress or (lambda stage, done, total: None)
    count = phase.originals if count is None else count
    folders = [Path(cache_dir) / "originals" / _key(phase, splits, k) for k in range(count)]
    states: dict[int, dict[str, torch.Tensor]] = {
        k: load_weights(folder / "original.safetensors")
        for k, folder in enumerate(folders)
        if (folder / "original.safetensors").is_file()
    }
    cached = len(states) == count
    train = TrainData(*splits.tensors("train"), splits.data.num_classes)
    if 0 not in states:
        state, seconds = train_model(
            spec,
            phase.recipe,
            train,
            seed=phase.original_seed,
            device=device,
            progress=lambda done, total: report("original", done, total),
        )
        _store(
            folders[0],
            state,
            {"phase": phase.original_key(), "spec": spec.to_json(), "train_seconds": seconds},
        )
        states[0] = state
    missing = [k for k in range(1, count) if k not in states]
    if missing:
        trained = train_replicas(
            spec,
            phase.recipe,
            train,
            seeds=[original_seed(phase, k) for k in missing],
            device=device,
            progress=lambda done, total: report("originals", done, total),
        )
        for k, state in zip(missing, trained, strict=True):
            seeded = phase.with_(original_seed=original_seed(phase, k), originals=1)
            _store(
                folders[k],
                state,
                {"phase": seeded.original_key(), "spec": spec.to_json(), "batched": True},
            )
            states[k] = state
    return [states[k] for k in range(count)], cached
