"""Seeded, reproducible splits: train/val/test, then forget/retain inside train.

    make_splits(data, config, split="public")      -> Splits
    private_bits(config, n_train=, n_keys=)        -> float (bits of secrecy of the private set)
    check_private_secrecy(config, n_train=, n_keys=)  ConfigError below MIN_PRIVATE_BITS
    check_data_secrecy(data, config)                  the same, counting in `data`

The train/val/test cut depends on `config.data_seed` alone, so the public and private
leaderboards share one original model. The three forget sets are drawn in a fixed order,
dev, then public, then private, each with its own seed, so that they never coincide:

- `classes` / `groups`: dev draws `forget_count` keys (classes or groups) from those present
  in train; public draws from the keys dev left; private from the keys both left. The three
  key sets are disjoint whenever train has at least 3 x forget_count keys, and distinct
  otherwise (as far as the number of possible sets allows). The dev set depends on
  `dev_seed` alone, so a participant rebuilds it from the published phase; the private set
  also depends on the two secret seeds.
- `random`: each split draws `forget_fraction` of train with its own seed, independently (the
  same draw as before splits were drawn jointly, so published numbers stand); a draw equal to
  an earlier split's is drawn again from the same generator, which only a tiny train set can
  need.

Every index array is sorted, which fixes the order of forget-set logits across models and runs.

Secrecy of the private split. A team knows the dev forget set (its seed is published) and can
learn the public one (public failures and reports show it). What stays secret is which of the
remaining possible sets is the private one: `private_bits` is log2 of their number,
log2 C(K - 2k, k) for k of K classes or groups, log2 C(n, c) for c of n train examples.
A server phase needs `MIN_PRIVATE_BITS` = 20 bits (`check_private_secrecy`):
- a guess of the private set is right once in a million phases;
- a submission that ships one prepared answer per possible private set would need a
  million of them, each tuned against its own retrained references;
- every private evaluation shows its team a failure category, at most log2 7 = 2.8 bits
  (docs/api.md, trust model), so at least 8 chosen private outcomes are needed before the
  set could be singled out, against 1 or 2 for a 10-class data set (3.0 bits).
Forgetting 1 of CIFAR-10's classes (3.0 bits) or 2 (3.9 bits) is therefore refused on a
server; `random` mode has hundreds of bits on any real data set. Local dry-runs are not
checked: nothing there is secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from harness.data.base import LabelledData
from harness.data.secrecy import MIN_PRIVATE_BITS, check_private_secrecy, private_bits
from harness.errors import ConfigError
from harness.phase import SplitConfig, SplitName

__all__ = [
    "DRAW_ORDER",
    "MIN_PRIVATE_BITS",
    "PARTS",
    "Splits",
    "check_data_secrecy",
    "check_private_secrecy",
    "make_splits",
    "private_bits",
]

PARTS = ("train", "val", "test", "forget", "retain")
# The forget sets are drawn in this order, each avoiding those before it.
DRAW_ORDER: tuple[SplitName, ...] = ("dev", "public", "private")
REDRAWS = 64  # attempts at a forget set distinct from the earlier ones


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


def _distinct(
    rng: np.random.Generator, pool: np.ndarray, size: int, earlier: list[np.ndarray]
) -> np.ndarray:
    """`size` of `pool` (sorted), drawn again while equal to an earlier set; the last if always."""
    chosen = np.sort(rng.choice(pool, size=size, replace=False))
    for _ in range(REDRAWS):
        if not any(np.array_equal(chosen, other) for other in earlier):
            break
        chosen = np.sort(rng.choice(pool, size=size, replace=False))
    return chosen


def _forget_keys(data: LabelledData, train: np.ndarray, config: SplitConfig) -> np.ndarray:
    """The class or group of each train example (`classes` and `groups` modes)."""
    if config.forget_mode == "classes":
        return np.asarray(data.y[train])
    if data.groups is None:
        raise ConfigError(
            f"forget_mode 'groups' needs group ids, and {data.name} has none: give a "
            "groups array in data.npz or a group column in labels.csv"
        )
    return np.asarray(data.groups[train])


def _forget(
    data: LabelledData, train: np.ndarray, config: SplitConfig, split: SplitName
) -> np.ndarray:
    """The forget set of `split`, drawn after those of the splits before it in DRAW_ORDER."""
    earlier: list[np.ndarray] = []
    if config.forget_mode == "random":
        count = max(1, round(config.forget_fraction * len(train)))
        for name in DRAW_ORDER:
            rng = np.random.default_rng(config.forget_seed(name))
            forget = _distinct(rng, train, count, earlier)
            if name == split:
                return forget
            earlier.append(forget)
        raise AssertionError(split)  # DRAW_ORDER names every split
    keys = _forget_keys(data, train, config)
    present = np.unique(keys)
    what = config.forget_mode
    if config.forget_count >= len(present):
        raise ConfigError(
            f"cannot forget {config.forget_count} {what}: the train split has only "
            f"{len(present)}, and something must be retained"
        )
    k = config.forget_count
    for name in DRAW_ORDER:
        rng = np.random.default_rng(config.forget_seed(name))
        taken = np.concatenate(earlier) if earlier else present[:0]
        left = np.setdiff1d(present, taken)
        # Disjoint from the earlier sets while enough keys are left, else merely distinct.
        pool = left if len(left) >= k else present
        chosen = _distinct(rng, pool, k, earlier)
        if name == split:
            return np.sort(train[np.isin(keys, chosen)])
        earlier.append(chosen)
    raise AssertionError(split)


def check_data_secrecy(data: LabelledData, config: SplitConfig) -> None:
    """`check_private_secrecy` for `data` as `config` cuts it (a server phase's preparation)."""
    train, _, _ = _train_val_test(data, config)
    n_keys = None
    if config.forget_mode != "random":
        n_keys = len(np.unique(_forget_keys(data, train, config)))
    check_private_secrecy(config, n_train=len(train), n_keys=n_keys)


def make_splits(data: LabelledData, config: SplitConfig, split: SplitName = "public") -> Splits:
    """Cut `data` into train/val/test and forget/retain for the `split` leaderboard."""
    train, val, test = _train_val_test(data, config)
    config.forget_seed(split)  # refuses an unknown split name
    forget = _forget(data, train, config, split)
    retain = np.setdiff1d(train, forget, assume_unique=True)
    if len(retain) == 0 or len(forget) == 0 or len(val) == 0 or len(test) == 0:
        raise ConfigError(f"split {split!r} leaves an empty part: {len(retain)=} {len(forget)=}")
    as_int = [np.asarray(a, dtype=np.int64) for a in (train, val, test, forget, retain)]
    return Splits(data, split, *as_int)
