"""The registries' names: which data sets, models and interfaces a phase may name.

    DATASETS    data set kind -> DatasetEntry (its loader, whether it needs a folder, ...)
    MODELS      model name    -> builder(ModelSpec) -> torch module      (harness.models)
    INTERFACES  interface     -> Interface, the batches' shape           (harness.data.interfaces)

This module is the one list of names. It imports nothing but the standard library, so the
phase model (`harness.phase`) and the API process validate a phase without loading torch:
each entry names its implementation as `"module:attribute"`, imported the first time the
entry itself is read (`MODELS["mlp"]`), never when names are listed or checked (`"mlp" in
MODELS`, `list(MODELS)`). Registering one is one assignment, `MODELS["mine"] = builder`
(an object or a `"module:attribute"` string), and makes it valid everywhere: the phase model,
the API, the console form, the CLI. A process that starts afresh (the scorer's spawned
bootstrap workers, the sandbox container) sees only what registers when modules import, so
a deployment registers its entries in a module that they import too. The estimators'
registry (`harness.scoring.estimators.ESTIMATORS`) and the recipe presets
(`harness.phase.RECIPES`) are light already and stay where they are.

This file is copied into the sandbox image (`scripts/stage_sandbox_context.sh`): keep it
free of anything but the standard library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from torch import nn

    from harness.data.base import LabelledData
    from harness.data.interfaces import Interface
    from harness.models import ModelSpec
    from harness.phase import DatasetConfig

__all__ = [
    "DATASETS",
    "DEFAULT_INTERFACE",
    "INTERFACES",
    "MODELS",
    "DatasetEntry",
    "Registry",
    "resolve",
]

T = TypeVar("T")


def resolve(target: str) -> Any:
    """The object `"module:attribute"` names (the module imported now)."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(MutableMapping[str, T], Generic[T]):
    """Names -> entries; an entry given as `"module:attribute"` is imported on first read."""

    def __init__(self, what: str, entries: dict[str, T | str]) -> None:
        self.what = what  # "dataset", "model": the word in error messages
        self._entries: dict[str, T | str] = dict(entries)

    def __getitem__(self, name: str) -> T:
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._entries[name] = resolve(entry)
        return entry

    def __setitem__(self, name: str, entry: T | str) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self._entries)})"


@dataclass(frozen=True)
class DatasetEntry:
    """A data set kind: how it loads, and what a phase can know of it before it loads.

    loader: `DatasetConfig -> LabelledData`, or its `"module:attribute"` (imported on use);
    needs_path: the kind reads an organizer's folder, so a phase must give `path`;
    classes: the classes of a built-in set (all present in its train split; none has
        groups), which the server's secrecy check counts before any data is loaded;
        None for a set whose classes are known only once it is read;
    generated: made by code at load time, so worth keeping as .npz once made.
    """

    loader: Callable[[DatasetConfig], LabelledData] | str
    needs_path: bool = False
    classes: int | None = None
    generated: bool = False

    def load(self, config: DatasetConfig) -> LabelledData:
        loader = resolve(self.loader) if isinstance(self.loader, str) else self.loader
        data: LabelledData = loader(config)
        return data


DATASETS: Registry[DatasetEntry] = Registry(
    "dataset",
    {
        "mnist1d": DatasetEntry("harness.data.loaders:load_mnist1d", classes=10, generated=True),
        "digits": DatasetEntry("harness.data.loaders:load_digits", classes=10),
        "mnist5k": DatasetEntry("harness.data.loaders:load_mnist5k", classes=10),
        "cifar10": DatasetEntry("harness.data.loaders:load_cifar10", needs_path=True, classes=10),
        "folder": DatasetEntry("harness.data.loaders:load_folder", needs_path=True),
    },
)

MODELS: Registry[Callable[[ModelSpec], nn.Module]] = Registry(
    "model",
    {
        "mlp": "harness.models:build_mlp",
        "cnn": "harness.models:build_cnn",
        "resnet18": "harness.models:build_resnet18",
        "resnet18-small": "harness.models:build_resnet18_small",
    },
)

DEFAULT_INTERFACE = "tuple"  # a phase that names none: (inputs, targets) batches
INTERFACES: Registry[Interface] = Registry(
    "interface",
    {
        "tuple": "harness.data.interfaces:TUPLE",
        "kaggle2023": "harness.data.interfaces:KAGGLE2023",
    },
)
