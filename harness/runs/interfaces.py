"""The batch interfaces, under their former name: they live in `harness.data.batches`.

Kept so that code importing `harness.runs.interfaces` goes on working; new code imports
`harness.data.batches`, which sits below both the reference and the runs stages.
"""

from harness.data.batches import (
    DEFAULT_INTERFACE,
    INTERFACES,
    Interface,
    SplitData,
    SplitDataset,
    collate,
    make_loader,
)

__all__ = [
    "DEFAULT_INTERFACE",
    "INTERFACES",
    "Interface",
    "SplitData",
    "SplitDataset",
    "collate",
    "make_loader",
]
