"""Seeded, reproducible splits: train/val/test, then forget/retain inside train.

    make_splits(data, config, split="public") -> Splits

The train/val/test cut depends on `config.data_seed` alone, so the public and private
leaderboards share one original model; the forget set depends on the split's own seed
(`public_seed` or `private_seed`). Every index array is sorted, which fixes the order of
forget-set logits across models and runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from harness.data.base import LabelledData
from harness.errors import ConfigError
from harness.phase import SplitConfig, SplitName

__all__ = ["PARTS", "Splits", "make_splits"]

PARTS = ("train", "val", "test", "forget", "retain")


@dataclass(frozen=True, eq=False)
class Splits:
    """Index arrays (int64, sorted) into `data` for each part; forget ∪ retain = train."""

    data: LabelledData
    split: SplitName
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    forget: np.ndarray
    retain: np.ndarray

    def arrays(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        index = getattr(self, part)
        return self.data.x[index], self.data.y[index]

    def tensors(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.arrays(part)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.copy())

    def sizes(self) -> dict[str, int]:
        return {part: len(getattr(self, part)) for part in PARTS}

    def fingerprint(self) -> str:
        digest = hashlib.blake2b(self.data.fingerprint().encode(), digest_size=16)
        for part in PARTS:
            digest.update(getattr(self, part).tobytes())
        return digest.hexdigest()


def _train_val_test(data: LabelledData, config: SplitConfig) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(config.data_seed)
    n = len(data.y)
    if data.test_mask is not None and data.test_mask.any():
        # The source has its own test split (as CIFAR-10): halve it into val and test, as
        # the 2023 starting kit did, and train on the rest.
        held_out = rng.permutation(np.flatnonzero(data.test_mask))
        half = len(held_out) // 2
        val, test = held_out[:half], held_out[half:]
        train = np.flatnonzero(~data.test_mask)
    else:
        order = rng.permutation(n)
        n_test = max(1, round(config.test_fraction * n))
        n_val = max(1, round(config.val_fraction * n))
        test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return np.sort(train), np.sort(val), np.sort(test)


def _forget(data: LabelledData, train: np.ndarray, config: SplitConfig, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if config.forget_mode == "random":
        count = max(1, round(config.forget_fraction * len(train)))
        return np.sort(rng.choice(train, size=count, replace=False))
    if config.forget_mode == "classes":
        keys, what = data.y[train], "classes"
    else:
        if data.groups is None:
            raise ConfigError(
                f"forget_mode 'groups' needs group ids, and {data.name} has none: give a "
                "groups array in data.npz or a group column in labels.csv"
            )
        keys, what = data.groups[train], "groups"
    present = np.unique(keys)
    if config.forget_count >= len(present):
        raise ConfigError(
            f"cannot forget {config.forget_count} {what}: the train split has only "
            f"{len(present)}, and something must be retained"
        )
    chosen = rng.choice(present, size=config.forget_count, replace=False)
    return np.sort(train[np.isin(keys, chosen)])


def make_splits(data: LabelledData, config: SplitConfig, split: SplitName = "public") -> Splits:
    """Cut `data` into train/val/test and forget/retain for the `split` leaderboard."""
    train, val, test = _train_val_test(data, config)
    forget = _forget(data, train, config, config.forget_seed(split))
    retain = np.setdiff1d(train, forget, assume_unique=True)
    if len(retain) == 0 or len(forget) == 0 or len(val) == 0 or len(test) == 0:
        raise ConfigError(f"split {split!r} leaves an empty part: {len(retain)=} {len(forget)=}")
    as_int = [np.asarray(a, dtype=np.int64) for a in (train, val, test, forget, retain)]
    return Splits(data, split, *as_int)
