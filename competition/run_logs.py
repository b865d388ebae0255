"""What a submission printed, as its team reads it: each seed's output under its seed, size-capped.

    compose_logs(seeds, excerpts) -> text     one shard's or one attempt's logs

Inputs come from the trusted side: the sandbox runner's excerpt of each run's stdout and
stderr (`harness.runs.sandbox.base.RunOutcome.log_excerpt`, the container's log read by
the worker, never a file the submission wrote). Caps: `PER_SEED_CHARS` per seed (the end is
kept: that is where a traceback is) and `PER_SUBMISSION_CHARS` per attempt. Consecutive
seeds that printed the same text (one container runs several seeds) are shown once.
Only development-split runs are composed; the private split's output is never stored
(`competition.lifecycle.attach_logs` is called with public shards only).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PER_SEED_CHARS", "PER_SUBMISSION_CHARS", "compose_logs", "tail"]

PER_SEED_CHARS = 4_000
PER_SUBMISSION_CHARS = 64_000


def tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text`, marked when something was cut."""
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} earlier characters cut]\n" + text[-limit:]


def compose_logs(
    seeds: Sequence[int],
    excerpts: Sequence[str],
    *,
    per_seed: int = PER_SEED_CHARS,
    total: int = PER_SUBMISSION_CHARS,
) -> str:
    """One text for a set of runs, seed by seed; empty when no run printed anything."""
    if len(seeds) != len(excerpts):
        raise ValueError(f"{len(seeds)} seeds but {len(excerpts)} excerpts")
    groups: list[tuple[list[int], str]] = []
    for seed, text in sorted(zip(seeds, excerpts, strict=True)):
        text = tail(text.rstrip("\n"), per_seed)
        if groups and groups[-1][1] == text:
            groups[-1][0].append(int(seed))
        else:
            groups.append(([int(seed)], text))
    parts = [
        f"== seed{'s' if len(g) > 1 else ''} {_span(g)} ==\n{text}\n" for g, text in groups if text
    ]
    joined = "".join(parts)
    if len(joined) > total:
        joined = joined[:total] + f"\n[… logs cut at {total} characters]\n"
    return joined


def _span(seeds: list[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
