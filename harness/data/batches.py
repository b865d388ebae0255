"""Batches: what the batches a submission receives look like, chosen per phase, and the
shuffling loaders that deal them (to a submission, and to the reference training).

    INTERFACES["tuple"]       (inputs, targets), as the CIFAR-10 starting kit (the default)
    INTERFACES["kaggle2023"]  dicts as the 2023 Kaggle template: image, image_id, age_group,
                              age, person_id; a `device`/`DEVICE` parameter filled, and
                              /kaggle/tmp, /kaggle/working writable in the sandbox
    make_loader(data, interface=..., batch_size=..., generator=...) -> DataLoader
    shuffled_loader(tensors, batch_size=..., generator=...)        -> DataLoader (training)

This module sits at the bottom of the stages (it imports torch only): the reference
training (`harness.reference`) and the submission's runs (`harness.runs`) both read their
batches through it, and the sandbox image holds a copy of it.

Adding an interface is one entry in INTERFACES (`harness.registry`, where the names live so
that a phase is checked without torch): an `Interface` here saying how one item and one batch
of a split look, and a sentence describing them for error messages.

A loader is a real `torch.utils.data.DataLoader` over a map-style `SplitDataset` whose items
have the interface's shape, with the phase's `batch_size` and `shuffle=True` order drawn from
the run's seeded generator, so a participant who builds their own `DataLoader` from
`loader.dataset` (or wraps it in `ConcatDataset` or `Subset`) gets the same items. The
harness's own loaders stay as fast as whole-batch indexing: the dataset's `__getitems__`
(which DataLoader calls with a batch's indices) returns a lazy batch that `collate` turns
into tensors with one index per field, equal to what `default_collate` makes of the items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    TensorDataset,
    default_collate,
)

from harness.data.interfaces import KAGGLE2023, TUPLE, Interface
from harness.registry import DEFAULT_INTERFACE, INTERFACES

__all__ = [
    "DEFAULT_INTERFACE",
    "INTERFACES",
    "KAGGLE2023",
    "TUPLE",
    "Interface",
    "SplitData",
    "SplitDataset",
    "collate",
    "make_loader",
    "shuffled_loader",
]


@dataclass(frozen=True, eq=False)
class SplitData:
    """One split as tensors: inputs float32 [n, ...], targets int64 [n], example ids int64 [n]
    (the example's index in the whole data set), groups int64 [n] or None (e.g. subjects)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    ids: torch.Tensor
    groups: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.targets)


class SplitDataset(Dataset[Any]):
    """A map-style dataset over one split whose items have the interface's shape."""

    def __init__(self, data: SplitData, interface: str = DEFAULT_INTERFACE) -> None:
        self.data = data
        self.interface = INTERFACES[interface]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= int(index) < len(self):
            raise IndexError(f"index {index} out of range for a split of {len(self)} examples")
        return self.interface.fields(self.data, int(index))

    def __getitems__(self, indices: Sequence[int]) -> _LazyBatch:
        # DataLoader calls this with one batch's indices (and so do Subset and our collate).
        return _LazyBatch(self, torch.as_tensor(indices, dtype=torch.int64))


class _LazyBatch(Sequence[Any]):
    """The items of one batch, made only if someone reads them one by one.

    `collate` turns it into tensors with one index per field; `default_collate` (a
    participant's own loader) reads the items and stacks them into the same tensors.
    """

    def __init__(self, dataset: SplitDataset, rows: torch.Tensor) -> None:
        self.dataset = dataset
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.dataset[int(i)] for i in self.rows[k]]
        return self.dataset[int(self.rows[k])]

    def collated(self) -> Any:
        return self.dataset.interface.fields(self.dataset.data, self.rows)


def collate(batch: Any) -> Any:
    """The harness loaders' collate: whole-batch indexing for our batches, else torch's."""
    if isinstance(batch, _LazyBatch):
        return batch.collated()
    return default_collate(batch)


def make_loader(
    data: SplitData,
    *,
    interface: str = DEFAULT_INTERFACE,
    batch_size: int,
    generator: torch.Generator,
    fast: bool = True,
) -> DataLoader[Any]:
    """A shuffling DataLoader over `data` whose order follows `generator` alone.

    `fast=False` builds the loader a participant would (per-item reads, `default_collate`):
    the same batches, kept for tests and bench/.
    """
    if interface not in INTERFACES:
        raise KeyError(interface)
    return DataLoader(
        SplitDataset(data, interface),
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        collate_fn=collate if fast else _per_item_collate,
    )


def _per_item_collate(batch: Any) -> Any:
    return default_collate(list(batch))


def shuffled_loader(
    tensors: tuple[torch.Tensor, ...], *, batch_size: int, generator: torch.Generator
) -> DataLoader[Any]:
    """A shuffling loader of `(inputs, targets)` batches whose order follows `generator` only.

    It yields exactly the batches of `DataLoader(TensorDataset(*tensors), batch_size,
    shuffle=True, generator=generator)` (same generator draws, same order), but indexes
    whole batches at once instead of collating single examples: about twice as fast on
    small tensors, which matters because runs are timed against a retraining.
    """
    dataset = TensorDataset(*tensors)
    sampler = BatchSampler(RandomSampler(dataset, generator=generator), batch_size, False)
    return DataLoader(dataset, sampler=sampler, batch_size=None, generator=generator)
