"""Interfaces: what one item and one batch of a split look like to a submission, per phase.

    TUPLE       (inputs, targets), as the CIFAR-10 starting kit (the default)
    KAGGLE2023  dicts as the 2023 Kaggle template: image, image_id, age_group, age,
                person_id; a `device`/`DEVICE` parameter filled with the run's device, and
                /kaggle/tmp, /kaggle/working writable in the sandbox

Adding an interface is an `Interface` here and its name in `harness.registry.INTERFACES`.
This module imports no torch (the fields index whatever tensors they are given), so the
API process reads an interface's facts, such as the parameters it fills, without loading
torch; `harness.data.batches` builds the loaders from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from harness.data.batches import SplitData

__all__ = ["KAGGLE2023", "TUPLE", "Fields", "Interface"]

Fields = Callable[["SplitData", Any], Any]
"""(data, index) -> an item when index is an int, a batch when it is an int64 tensor."""


def _tuple_fields(data: SplitData, index: Any) -> tuple[torch.Tensor, torch.Tensor]:
    return data.inputs[index], data.targets[index]


def _kaggle_fields(data: SplitData, index: Any) -> dict[str, torch.Tensor]:
    label = data.targets[index]
    return {
        "image": data.inputs[index],
        "image_id": data.ids[index],
        "age_group": label,
        "age": label,  # no ages in our data sets: the label stands in, as age_group does
        "person_id": (data.groups if data.groups is not None else data.ids)[index],
    }


@dataclass(frozen=True)
class Interface:
    """How items and batches of a split look under one interface."""

    name: str
    fields: Fields
    description: str  # what one batch is, for error messages and docs
    example: str  # how a submission reads a batch
    # Parameters of unlearning() the harness fills with the run's device ("cpu", "cuda:0")
    # when the function has them (beyond the four loaders' slots).
    device_parameters: tuple[str, ...] = ()
    # Scratch folders the sandbox makes for each run, inside its capped, per-run TMPDIR.
    scratch_folders: tuple[str, ...] = ()

    def hint(self, exc: BaseException) -> str | None:
        """A sentence naming this interface when `exc` looks like code written for another."""
        text = str(exc)
        if self.name == "tuple":
            mismatch = (isinstance(exc, TypeError) and "indices must be integers" in text) or (
                isinstance(exc, ValueError) and "values to unpack" in text
            )
        else:
            mismatch = (isinstance(exc, KeyError) and isinstance(exc.args[0], int)) or (
                isinstance(exc, ValueError | TypeError | AttributeError)
                and ("values to unpack" in text or "'str' object" in text)
            )
        if not mismatch:
            return None
        return (
            f"this phase's interface is `{self.name}`: {self.description}; read it as "
            f"`{self.example}` (see 'Bringing code from the 2023 challenge' in "
            "starting_kit/README.md)"
        )


TUPLE = Interface(
    name="tuple",
    fields=_tuple_fields,
    description="each batch is a tuple (inputs, targets) of tensors, inputs float32 "
    "[batch, ...] and targets int64 [batch]",
    example="for inputs, targets in retain_loader:",
)
KAGGLE2023 = Interface(
    name="kaggle2023",
    fields=_kaggle_fields,
    description="each batch is a dict of tensors: image (float32 [batch, ...]), "
    "image_id, age_group (the label), age, person_id (the group id, or image_id when "
    "the data set has no groups)",
    example='for sample in retain_loader: inputs, targets = sample["image"], sample["age_group"]',
    device_parameters=("device", "DEVICE"),
    scratch_folders=("/kaggle/tmp", "/kaggle/working"),
)
