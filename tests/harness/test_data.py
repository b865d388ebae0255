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
    return load_dataset(DatasetConfig(kind="mnist1d"))


def test_mnist1d_is_generated_identically_and_keeps_its_test_split(mnist1d: LabelledData) -> None:
    assert mnist1d.x.shape == (5000, 40) and mnist1d.x.dtype == np.float32
    assert mnist1d.test_mask is not None and mnist1d.test_mask.sum() == 1000
    state = np.random.get_state()[1].copy()
    again = load_dataset(DatasetConfig(kind="mnist1d"))
    assert again.fingerprint() == mnist1d.fingerprint()
    assert np.array_equal(np.random.get_state()[1], state), "global numpy RNG was disturbed"


def test_mnist1d_cache_returns_the_same_data(tmp_path: Path, mnist1d: LabelledData) -> None:
    first = load_dataset(DatasetConfig(kind="mnist1d"), cache_dir=tmp_path)
    assert (tmp_path / "data" / "mnist1d.npz").is_file()
    second = load_dataset(DatasetConfig(kind="mnist1d"), cache_dir=tmp_path)
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
    digits = load_dataset(DatasetConfig(kind="digits"))
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
    data = load_dataset(DatasetConfig(kind="folder", path=str(tmp_path / "faces")))
    assert data.x.shape == (60, 3, 8, 8) and data.x.max() <= 1.0
    splits = make_splits(data, SplitConfig(forget_mode="groups", forget_count=2, val_fraction=0.1))
    forgotten = np.unique(data.groups[splits.forget])  # type: ignore[index]
    assert len(forgotten) == 2
    assert not np.isin(data.groups[splits.retain], forgotten).any()  # type: ignore[index]


def test_forgetting_groups_without_group_ids_says_how_to_add_them(tmp_path: Path) -> None:
    _write_npz_set(tmp_path / "plain", groups=False)
    data = load_dataset(DatasetConfig(kind="folder", path=str(tmp_path / "plain")))
    with pytest.raises(ConfigError, match="group"):
        make_splits(data, SplitConfig(forget_mode="groups"))


def test_image_folder_with_labels_csv_loads(tmp_path: Path) -> None:
    from PIL import Image

    rows = ["file,label,group"]
    for i in range(6):
        Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,{i % 2},{i // 2}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(DatasetConfig(kind="folder", path=str(tmp_path)))
    assert data.x.shape == (6, 3, 4, 4)
    assert data.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert data.groups is not None and data.groups.tolist() == [0, 0, 1, 1, 2, 2]


def test_missing_cifar_directory_says_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="cifar-10-batches-py"):
        load_dataset(DatasetConfig(kind="cifar10", path=str(tmp_path / "nowhere")))


def _write_cifar_folder(root: Path, *, per_batch: int = 6) -> dict[str, np.ndarray]:
    """A `cifar-10-batches-py` folder in torchvision's format (pickled dicts of uint8 rows
    and labels), small and random: what an organizer's copy looks like, minus the size."""
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        with (folder / name).open("wb") as file:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, file)
        written[name] = data
    with (folder / "batches.meta").open("wb") as file:
        pickle.dump({b"label_names": [b"c%d" % i for i in range(10)]}, file)
    return written


def test_cifar10_kind_loads_a_folder_in_its_format(tmp_path: Path) -> None:
    written = _write_cifar_folder(tmp_path)
    data = load_dataset(DatasetConfig(kind="cifar10", path=str(tmp_path)))
    assert data.x.shape == (36, 3, 32, 32) and data.y.shape == (36,)
    assert data.test_mask is not None and int(data.test_mask.sum()) == 6
    # The first image is data_batch_1's first row, channels first, normalised per channel.
    first = written["data_batch_1"][0].reshape(3, 32, 32).astype(np.float32) / 255.0
    mean = np.array([0.4914, 0.4822, 0.4465], np.float32).reshape(3, 1, 1)
    std = np.array([0.2023, 0.1994, 0.2010], np.float32).reshape(3, 1, 1)
    np.testing.assert_allclose(data.x[0], (first - mean) / std, rtol=1e-6)


def test_cifar10_batch_that_is_not_one_is_refused_with_its_name(tmp_path: Path) -> None:
    _write_cifar_folder(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetNotFound, match="data_batch_3"):
        load_dataset(DatasetConfig(kind="cifar10", path=str(tmp_path)))


def test_cifar10_batch_naming_a_callable_is_refused(tmp_path: Path) -> None:
    # A pickle can run any callable it names; a batch file may name numpy arrays only.
    import os
    import pickle

    _write_cifar_folder(tmp_path)

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, ("true",))

    with (tmp_path / "cifar-10-batches-py" / "test_batch").open("wb") as file:
        pickle.dump({b"data": Evil(), b"labels": []}, file)
    with pytest.raises(DatasetNotFound, match="not allowed"):
        load_dataset(DatasetConfig(kind="cifar10", path=str(tmp_path)))
