"""The one shape every data source returns: `LabelledData`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from harness.errors import ConfigError

__all__ = ["LabelledData"]


@dataclass(frozen=True, eq=False)
class LabelledData:
    """A labelled set of examples.

    x: float32 [n, *input_shape]; y: int64 [n] in 0..num_classes-1;
    groups: int64 [n] or None (e.g. subject ids, for forgetting whole groups);
    test_mask: bool [n] or None, True where the source defines the example as test data.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    groups: np.ndarray | None = None
    test_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.x.ndim < 2 or len(self.x) != n:
            raise ConfigError(f"{self.name}: inputs shaped {self.x.shape} do not match {n} labels")
        if self.x.dtype != np.float32 or self.y.dtype != np.int64:
            raise ConfigError(f"{self.name}: inputs must be float32 and labels int64")
        if n == 0 or self.y.min() < 0 or self.y.max() >= self.num_classes:
            raise ConfigError(f"{self.name}: labels must lie in 0..{self.num_classes - 1}")
        if not np.isfinite(self.x).all():
            raise ConfigError(f"{self.name}: inputs contain NaN or infinite values")
        for extra, label in ((self.groups, "groups"), (self.test_mask, "test_mask")):
            if extra is not None and len(extra) != n:
                raise ConfigError(f"{self.name}: {label} has {len(extra)} entries, expected {n}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    def fingerprint(self) -> str:
        """A hash of the content, so a cache entry is never reused for changed data."""
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.x, self.y, self.groups, self.test_mask):
            if array is not None:
                digest.update(str(array.shape).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()
