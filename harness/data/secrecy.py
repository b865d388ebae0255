"""Secrecy of a server phase's private forget set, counted without loading anything heavy.

    private_bits(config, n_train=, n_keys=)           -> float (bits of secrecy of the private set)
    check_private_secrecy(config, n_train=, n_keys=)  ConfigError below MIN_PRIVATE_BITS

Why 20 bits, and what a team knows, is told in `harness.data.splits`' docstring. This module
needs only `math`, so the API process checks a new phase against a built-in set's classes
(`harness.phase_schema.check_server_secrecy`) without loading torch; a worker counts the
real data when it prepares the phase (`splits.check_data_secrecy`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.phase import SplitConfig

__all__ = ["MIN_PRIVATE_BITS", "check_private_secrecy", "private_bits"]

MIN_PRIVATE_BITS = 20.0  # see harness.data.splits' docstring for why


def _log2_sets(n: int, k: int, *, known: int = 0) -> float:
    """log2 of the number of k-subsets of n items, less `known` ruled out; 0 if none is left."""
    count = math.comb(n, k) - known if 0 <= k <= n else 0
    return math.log2(count) if count > 1 else 0.0


def private_bits(
    config: SplitConfig, *, n_train: int | None = None, n_keys: int | None = None
) -> float:
    """log2 of the number of private forget sets still possible to a team that knows the dev
    and the public ones: `n_train` train examples, `n_keys` classes or groups present in them
    (`classes`/`groups` modes). 0 when the private set cannot be kept apart from them."""
    if config.forget_mode == "random":
        if n_train is None:
            raise ValueError("forget_mode 'random' needs n_train")
        count = max(1, round(config.forget_fraction * n_train))
        return _log2_sets(n_train, count, known=2)  # drawn apart from dev and public
    if n_keys is None:
        raise ValueError(f"forget_mode {config.forget_mode!r} needs n_keys")
    k = config.forget_count
    return _log2_sets(n_keys - 2 * k, k)  # keys that neither dev nor public took


def check_private_secrecy(
    config: SplitConfig, *, n_train: int | None = None, n_keys: int | None = None
) -> None:
    """ConfigError, naming the field to change, if the private forget set has fewer than
    MIN_PRIVATE_BITS bits of secrecy (see the module docstring)."""
    bits = private_bits(config, n_train=n_train, n_keys=n_keys)
    if bits >= MIN_PRIVATE_BITS:
        return
    if config.forget_mode == "random":
        raise ConfigError(
            f"split_spec: the private forget set has only {bits:.1f} bits of secrecy "
            f"(a server phase needs {MIN_PRIVATE_BITS:.0f}): {n_train} train examples are too "
            "few to hide which of them are forgotten; use a larger data set or a "
            "forget_fraction nearer 0.5"
        )
    what, k = config.forget_mode, config.forget_count
    assert n_keys is not None  # private_bits refused its absence
    counts = [
        c for c in range(1, n_keys // 3 + 1) if _log2_sets(n_keys - 2 * c, c) >= MIN_PRIVATE_BITS
    ]
    if counts:
        change = (
            f"set forget_count to {counts[0]}..{counts[-1]}"
            if len(counts) > 1
            else f"set forget_count to {counts[0]}"
        )
    else:
        change = (
            f"no forget_count reaches it with {n_keys} {what}: use a data set with at least "
            f"{_keys_needed(k)} {what} for forget_count {k}, or forget_mode 'random'"
        )
    raise ConfigError(
        f"split_spec: forgetting {k} of {n_keys} {what} leaves the private forget set "
        f"{bits:.1f} bits of secrecy once a team knows the dev and public sets (one of "
        f"C({n_keys} - 2*{k}, {k}) possible sets); a server phase needs "
        f"{MIN_PRIVATE_BITS:.0f}: {change}"
    )


def _keys_needed(k: int) -> int:
    """The fewest classes or groups that give forgetting `k` of them MIN_PRIVATE_BITS."""
    low, high = 3 * k, 3 * k
    while _log2_sets(high - 2 * k, k) < MIN_PRIVATE_BITS:
        low, high = high, 2 * high
    while low < high:  # bisect: the number of sets grows with the number of keys
        middle = (low + high) // 2
        if _log2_sets(middle - 2 * k, k) >= MIN_PRIVATE_BITS:
            high = middle
        else:
            low = middle + 1
    return high
