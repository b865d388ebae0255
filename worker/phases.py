"""From the server's phase row to the harness's `PhaseConfig`, and the phase's reference cache
shared through the artifact store.

    phase_info(Phase row)   -> PhaseInfo     (its PhaseConfig, hidden seeds filled in:
                                              `.config` is what the harness runs)

The row stores its experiment as one `PhaseConfig` (`Phase.config`, validated when written;
reading it again raises ConfigError if a registry no longer has a name it uses), without
the leaderboard seeds, which live in `PhaseSecrets` and are filled in here only.

Reference cache (`pull_cache`, `push_cache`): the original model and the retrained
reference are trained once (`worker.tasks.provision`) and kept under
`reference-cache/` in the artifact store with the same layout as the harness's local
`cache_dir` (`originals/<key>/...`, `references/<key>/...`; keys are content hashes, so
phases never collide). A worker copies what it lacks before preparing a phase.
"""

from __future__ import annotations

import logging
from pathlib import Path

from competition.artifacts import ArtifactStore
from competition.models import Phase
from worker.backend import PhaseInfo

logger = logging.getLogger(__name__)

__all__ = ["CACHE_PREFIX", "phase_info", "pull_cache", "push_cache"]

CACHE_PREFIX = "reference-cache"
CACHED_FOLDERS = ("originals", "references")


def phase_info(phase: Phase) -> PhaseInfo:
    """The phase as an evaluation needs it, with its hidden leaderboard seeds filled in.

    Fails closed: a phase without server-made seeds is never evaluated on placeholder ones.
    """
    if phase.hidden_seeds is None:
        raise RuntimeError(f"phase {phase.id} has no leaderboard seeds; run the migrations")
    published = phase.config
    split = {**published.split.model_dump(), **phase.hidden_seeds.split_seeds()}
    return PhaseInfo(id=phase.id, config=published.with_(split=split))


def pull_cache(store: ArtifactStore, cache_dir: Path) -> int:
    """Copy cached originals and references this machine lacks; returns how many files."""
    copied = 0
    for folder in CACHED_FOLDERS:
        for key in store.list(f"{CACHE_PREFIX}/{folder}"):
            local = Path(cache_dir) / key[len(CACHE_PREFIX) + 1 :]
            if not local.exists():
                store.get_file(key, local)
                copied += 1
    return copied


def push_cache(store: ArtifactStore, cache_dir: Path) -> int:
    """Publish local originals and references the store lacks; returns how many files."""
    copied = 0
    for folder in CACHED_FOLDERS:
        root = Path(cache_dir) / folder
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = f"{CACHE_PREFIX}/{path.relative_to(cache_dir).as_posix()}"
            if not store.exists(key):
                store.put_file(key, path)
                copied += 1
    return copied
