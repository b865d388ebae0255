"""Labelled data and its seeded splits: the first step of the data flow.

    load_dataset(DatasetConfig) -> LabelledData      (embedded, CIFAR-10 dir, organizer's set)
    make_splits(LabelledData, SplitConfig, split)    -> Splits (train/val/test, forget/retain)
    batches.make_loader(SplitData, interface=...)    -> DataLoader (a submission's batches)
    batches.shuffled_loader(tensors, ...)            -> DataLoader (the reference training's)

base.py     LabelledData          loaders.py     LOADERS, the data sets
splits.py   the seeded splits     interfaces.py  the batches' shapes (no torch)
secrecy.py  the private split's   batches.py     the loaders that deal them
            secrecy check

Every data set loader returns the same small `LabelledData` (float32 inputs, int64 labels,
optional group ids, optional predefined test mask); nothing is ever downloaded at run time.
`batches.py` imports torch only: the reference and runs stages both deal their batches
through it, and the sandbox image holds a copy of it.

The names below load on first use: importing a light module of this package
(`harness.data.secrecy`, which the API process uses) must not load torch with `splits`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.data.base import LabelledData
    from harness.data.loaders import load_dataset
    from harness.data.splits import Splits, make_splits

__all__ = ["LabelledData", "Splits", "load_dataset", "make_splits"]

_HOMES = {
    "LabelledData": "harness.data.base",
    "load_dataset": "harness.data.loaders",
    "Splits": "harness.data.splits",
    "make_splits": "harness.data.splits",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
