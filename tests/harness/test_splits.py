"""The dev, public and private forget sets: drawn jointly, distinct, and secret enough."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from harness.data import LabelledData, make_splits
from harness.data.splits import (
    MIN_PRIVATE_BITS,
    check_data_secrecy,
    check_private_secrecy,
    private_bits,
)
from harness.errors import ConfigError
from harness.phase import DatasetConfig, PhaseConfig, SplitConfig, SplitName
from harness.pipeline import prepare_phase

SPLITS: tuple[SplitName, ...] = ("dev", "public", "private")


def _labelled(n: int, *, classes: int, groups: int | None = None) -> LabelledData:
    y = np.arange(n, dtype=np.int64) % classes
    group_ids = np.arange(n, dtype=np.int64) % groups if groups else None
    x = np.zeros((n, 2), np.float32)
    return LabelledData("synthetic", x, y, num_classes=classes, groups=group_ids)


def _seed_triples(count: int) -> list[tuple[int, int, int]]:
    """Random 62-bit seeds, as the server draws them (`secrets`), distinct within a triple."""
    rng = np.random.default_rng(2026)
    triples = rng.integers(0, 2**62, size=(count, 3))
    return [(int(a), int(b), int(c)) for a, b, c in triples if len({a, b, c}) == 3]


def _forgotten(data: LabelledData, config: SplitConfig, split: SplitName) -> frozenset[int]:
    keys = data.y if config.forget_mode == "classes" else data.groups
    assert keys is not None
    return frozenset(int(key) for key in np.unique(keys[make_splits(data, config, split).forget]))


@pytest.mark.parametrize(("mode", "count"), [("classes", 1), ("classes", 3), ("groups", 4)])
def test_forget_sets_are_disjoint_over_many_seeds(mode: str, count: int) -> None:
    # Drawn independently, 10 classes with one forgotten made public == private in 1 phase
    # of 10; here every phase keeps the three sets apart (3 x count <= keys present).
    data = _labelled(600, classes=10, groups=12)
    for dev, public, private in _seed_triples(400):
        config = SplitConfig(
            forget_mode=mode,
            forget_count=count,
            dev_seed=dev,
            public_seed=public,
            private_seed=private,
        )
        sets = [_forgotten(data, config, split) for split in SPLITS]
        assert all(len(keys) == count for keys in sets)
        for first, second in combinations(sets, 2):
            assert not first & second, (config, sets)


def test_forget_sets_stay_distinct_when_too_few_keys_to_be_disjoint() -> None:
    data = _labelled(600, classes=10)
    for dev, public, private in _seed_triples(200):
        config = SplitConfig(
            forget_mode="classes",
            forget_count=4,
            dev_seed=dev,
            public_seed=public,
            private_seed=private,
        )
        sets = [_forgotten(data, config, split) for split in SPLITS]
        assert len(set(sets)) == 3, (config, sets)


def test_joint_draw_is_deterministic_and_dev_depends_on_its_published_seed_only() -> None:
    data = _labelled(600, classes=10, groups=30)
    server = SplitConfig(
        forget_mode="groups", forget_count=3, dev_seed=7, public_seed=10**12, private_seed=99
    )
    # A participant rebuilds the dev split from the published dev_seed, other seeds unknown.
    participant = SplitConfig(forget_mode="groups", forget_count=3, dev_seed=7)
    for split in SPLITS:
        first, again = make_splits(data, server, split), make_splits(data, server, split)
        assert first.fingerprint() == again.fingerprint()
    assert (
        make_splits(data, server, "dev").fingerprint()
        == make_splits(data, participant, "dev").fingerprint()
    )
    # The private set is drawn after the public one, so it follows the public seed too.
    private = make_splits(data, server, "private").forget
    moved = [
        not np.array_equal(
            private,
            make_splits(data, server.model_copy(update={"public_seed": seed}), "private").forget,
        )
        for seed in range(100, 120)
    ]
    assert any(moved)


def test_random_mode_draws_each_split_as_before_with_its_own_seed() -> None:
    # The published baselines (starting_kit/BASELINES.md) rest on this draw: it must not move.
    data = _labelled(500, classes=10)
    config = SplitConfig(dev_seed=3, public_seed=11, private_seed=12)
    for split in SPLITS:
        splits = make_splits(data, config, split)
        count = round(config.forget_fraction * len(splits.train))
        rng = np.random.default_rng(config.forget_seed(split))
        expected = np.sort(rng.choice(splits.train, size=count, replace=False))
        assert np.array_equal(splits.forget, expected)


def test_random_mode_redraws_a_forget_set_equal_to_an_earlier_one() -> None:
    # 9 train examples, 1 forgotten: independent draws coincide in about 1 phase of 3.
    data = _labelled(12, classes=2)
    config = SplitConfig(val_fraction=0.1, test_fraction=0.2, forget_fraction=0.1)
    for dev, public, private in _seed_triples(200):
        seeded = SplitConfig(
            val_fraction=0.1,
            test_fraction=0.2,
            forget_fraction=config.forget_fraction,
            dev_seed=dev,
            public_seed=public,
            private_seed=private,
        )
        sets = [tuple(make_splits(data, seeded, split).forget) for split in SPLITS]
        assert len(set(sets)) == 3, sets


def test_private_bits_counts_the_sets_left_once_dev_and_public_are_known() -> None:
    classes = SplitConfig(forget_mode="classes", forget_count=2)
    assert private_bits(classes, n_train=900, n_keys=10) == pytest.approx(np.log2(15))  # C(6, 2)
    assert private_bits(classes, n_train=900, n_keys=5) == 0.0  # not even disjoint
    assert private_bits(SplitConfig(), n_train=3600) > 1000  # random: C(3600, 360) - 2


def test_low_entropy_private_split_is_refused_saying_what_to_change() -> None:
    cifar_like = SplitConfig(forget_mode="classes", forget_count=1)
    with pytest.raises(ConfigError) as error:
        check_private_secrecy(cifar_like, n_train=45_000, n_keys=10)
    message = str(error.value)
    assert "split_spec" in message and "3.0 bits" in message
    assert f"needs {MIN_PRIVATE_BITS:.0f}" in message and "forget_mode 'random'" in message
    with pytest.raises(ConfigError, match="set forget_count to 4"):
        check_private_secrecy(cifar_like, n_train=45_000, n_keys=100)
    # Controls: enough keys, and random mode on a real data set, pass.
    check_private_secrecy(
        SplitConfig(forget_mode="classes", forget_count=4), n_train=45_000, n_keys=100
    )
    check_private_secrecy(SplitConfig(), n_train=3600)
    with pytest.raises(ConfigError, match="too few"):
        check_private_secrecy(SplitConfig(), n_train=20)


def test_server_preparation_refuses_an_own_data_set_with_too_few_groups(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    np.savez(
        folder / "data.npz",
        x=rng.normal(size=(400, 4)).astype(np.float32),
        y=rng.integers(0, 3, size=400),
        groups=np.arange(400) % 40,
    )
    phase = PhaseConfig(
        dataset=DatasetConfig(kind="folder", path=str(folder)),
        split=SplitConfig(forget_mode="groups", forget_count=2),
        replicas=4,
    )
    # Refused before any model is trained; a local dry-run (secret=False) is not checked.
    with pytest.raises(ConfigError, match=r"forgetting 2 of 40 groups .* bits of secrecy"):
        prepare_phase(phase, split="public", cache_dir=tmp_path / "cache", secret=True)
    # Control: with 400 groups the same count is secret enough.
    many = _labelled(2000, classes=3, groups=400)
    check_data_secrecy(many, SplitConfig(forget_mode="groups", forget_count=4))
    with pytest.raises(ConfigError, match="of 40 groups"):
        check_data_secrecy(_labelled(2000, classes=3, groups=40), phase.split)
