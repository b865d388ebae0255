"""Data sources and seeded splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data import LabelledData, load_dataset, make_splits
from harness.errors import ConfigError, DatasetNotFound
from harness.phase import DatasetConfig, SplitConfig


@pytest.fixture(scope="module")
def mnist1d() -> LabelledData:
    return load_dataset(DatasetConfig("mnist1d"))


def test_mnist1d_is_generated_identically_and_keeps_its_test_split(mnist1d: LabelledData) -> None:
    assert mnist1d.x.shape == (5000, 40) and mnist1d.x.dtype == np.float32
    assert mnist1d.test_mask is not None and mnist1d.test_mask.sum() == 1000
    state = np.random.get_state()[1].copy()
    again = load_dataset(DatasetConfig("mnist1d"))
    assert again.fingerprint() == mnist1d.fingerprint()
    assert np.array_equal(np.random.get_state()[1], state), "global numpy RNG was disturbed"


def test_mnist1d_cache_returns_the_same_data(tmp_path: Path, mnist1d: LabelledData) -> None:
    first = load_dataset(DatasetConfig("mnist1d"), cache_dir=tmp_path)
    assert (tmp_path / "data" / "mnist1d.npz").is_file()
    second = load_dataset(DatasetConfig("mnist1d"), cache_dir=tmp_path)
    assert first.fingerprint() == second.fingerprint() == mnist1d.fingerprint()


def test_splits_are_reproducible_disjoint_and_cover_train(mnist1d: LabelledData) -> None:
    a = make_splits(mnist1d, SplitConfig(), "public")
    b = make_splits(mnist1d, SplitConfig(), "public")
    assert a.fingerprint() == b.fingerprint()
    assert np.array_equal(np.sort(np.r_[a.forget, a.retain]), a.train)
    assert not set(a.train) & set(a.val) and not set(a.val) & set(a.test)
    assert set(a.val) | set(a.test) == set(np.flatnonzero(mnist1d.test_mask))
    assert len(a.forget) == 400 and np.all(np.diff(a.forget) > 0)


def test_public_and_private_splits_differ_only_in_the_forget_set(mnist1d: LabelledData) -> None:
    public = make_splits(mnist1d, SplitConfig(), "public")
    private = make_splits(mnist1d, SplitConfig(), "private")
    assert np.array_equal(public.train, private.train)
    assert np.array_equal(public.test, private.test)
    assert not np.array_equal(public.forget, private.forget)


def test_forgetting_classes_takes_every_train_example_of_those_classes() -> None:
    digits = load_dataset(DatasetConfig("digits"))
    splits = make_splits(digits, SplitConfig(forget_mode="classes", forget_count=2))
    forgotten = np.unique(digits.y[splits.forget])
    assert len(forgotten) == 2
    assert not np.isin(digits.y[splits.retain], forgotten).any()


def _write_npz_set(folder: Path, *, groups: bool) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.integers(0, 255, size=(60, 8, 8, 3), dtype=np.uint8),
        "y": rng.integers(0, 3, size=60),
    }
    if groups:
        arrays["groups"] = np.repeat(np.arange(12), 5)
    folder.mkdir()
    np.savez(folder / "data.npz", **arrays)


def test_forgetting_groups_takes_whole_subjects(tmp_path: Path) -> None:
    _write_npz_set(tmp_path / "faces", groups=True)
    data = load_dataset(DatasetConfig("folder", str(tmp_path / "faces")))
    assert data.x.shape == (60, 3, 8, 8) and data.x.max() <= 1.0
    splits = make_splits(data, SplitConfig(forget_mode="groups", forget_count=2, val_fraction=0.1))
    forgotten = np.unique(data.groups[splits.forget])  # type: ignore[index]
    assert len(forgotten) == 2
    assert not np.isin(data.groups[splits.retain], forgotten).any()  # type: ignore[index]


def test_forgetting_groups_without_group_ids_says_how_to_add_them(tmp_path: Path) -> None:
    _write_npz_set(tmp_path / "plain", groups=False)
    data = load_dataset(DatasetConfig("folder", str(tmp_path / "plain")))
    with pytest.raises(ConfigError, match="group"):
        make_splits(data, SplitConfig(forget_mode="groups"))


def test_image_folder_with_labels_csv_loads(tmp_path: Path) -> None:
    from PIL import Image

    rows = ["file,label,group"]
    for i in range(6):
        Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,{i % 2},{i // 2}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(DatasetConfig("folder", str(tmp_path)))
    assert data.x.shape == (6, 3, 4, 4)
    assert data.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert data.groups is not None and data.groups.tolist() == [0, 0, 1, 1, 2, 2]


def test_missing_cifar_directory_says_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="cifar-10-batches-py"):
        load_dataset(DatasetConfig("cifar10", str(tmp_path / "nowhere")))
