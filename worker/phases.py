"""From the server's phase row to the harness's `PhaseConfig`, and the phase's reference cache
shared through the artifact store.

    phase_info(Phase row)   -> PhaseInfo     (its experiment fields, hidden seeds filled in)
    phase_config(PhaseInfo) -> PhaseConfig   (validated; ConfigError says what to fix)

Mapping: `Phase.dataset` is a dataset kind (`mnist1d`, `digits`, ...) or `kind:/path` for
data on the workers' disk (`cifar10:/srv/unlearn/datasets/cifar10`); `split_spec` holds
`SplitConfig` fields; `recipe` holds `TrainRecipe` fields, or `{"preset": "competition",
...overrides}`, plus the model's `hidden` sizes and `run_batch_size` if wanted;
`max_run_fraction` the efficiency gate's limit; `interface` the batch shape. The field list
(`SERVER_FIELDS`), the mapping and its validation live in `harness.phase_schema`.

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
from harness.phase import PhaseConfig
from harness.phase_schema import SERVER_FIELDS, server_phase
from worker.backend import PhaseInfo

logger = logging.getLogger(__name__)

__all__ = ["CACHE_PREFIX", "phase_config", "phase_info", "pull_cache", "push_cache"]

CACHE_PREFIX = "reference-cache"
CACHED_FOLDERS = ("originals", "references")


def phase_info(phase: Phase) -> PhaseInfo:
    """The phase as an evaluation needs it, with its hidden leaderboard seeds filled in.

    Fails closed: a phase without server-made seeds is never evaluated on default ones.
    """
    if phase.hidden_seeds is None:
        raise RuntimeError(f"phase {phase.id} has no leaderboard seeds; run the migrations")
    experiment = {name: getattr(phase, name) for name in SERVER_FIELDS}
    experiment["split_spec"] = {**(phase.split_spec or {}), **phase.hidden_seeds.split_seeds()}
    experiment["recipe"] = dict(phase.recipe or {})
    experiment["racing"] = dict(phase.racing) if phase.racing else None
    return PhaseInfo(id=phase.id, experiment=experiment)


def phase_config(phase: PhaseInfo) -> PhaseConfig:
    """The harness configuration of a server phase; `ConfigError` says what to fix."""
    return server_phase(**phase.experiment)


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
