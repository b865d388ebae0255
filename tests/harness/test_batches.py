"""Batches (`harness.data.batches`): real DataLoaders whose items have the interface's shape,
seeded, and fast."""

from __future__ import annotations

import torch
from torch.utils.data import ConcatDataset, DataLoader, Subset

from harness.data.batches import INTERFACES, shuffled_loader
from harness.runs.protocol import make_loaders


def _parts(n: int = 50) -> dict:
    generator = torch.Generator().manual_seed(0)
    split = (
        torch.randn(n, 3, 4, 4, generator=generator),
        torch.randint(0, 5, (n,), generator=generator),
    )
    return {"retain": split, "forget": split, "val": split}


def test_tuple_loaders_are_dataloaders_with_the_phases_batch_size_and_the_old_order() -> None:
    loaders = make_loaders(**_parts(), seed=4, batch_size=8)
    assert isinstance(loaders.retain, DataLoader) and loaders.retain.batch_size == 8
    assert len(loaders.retain) == 7 and len(loaders.retain.dataset) == 50
    old = shuffled_loader(
        _parts()["retain"], batch_size=8, generator=torch.Generator().manual_seed(12)
    )
    for (a, b), (c, d) in zip(loaders.retain, old, strict=True):
        assert torch.equal(a, c) and torch.equal(b, d)


def test_kaggle_batches_are_dicts_with_the_templates_keys_and_group_ids() -> None:
    parts = _parts()
    groups = torch.arange(50) // 10
    ids = torch.arange(100, 150)
    loaders = make_loaders(
        **parts, seed=0, batch_size=8, interface="kaggle2023", ids=(ids,) * 3, groups=(groups,) * 3
    )
    batch = next(iter(loaders.retain))
    assert set(batch) == {"image", "image_id", "age_group", "age", "person_id"}
    assert batch["image"].dtype == torch.float32 and batch["image"].shape == (8, 3, 4, 4)
    index = batch["image_id"] - 100
    assert torch.equal(batch["person_id"], groups[index])
    assert torch.equal(batch["age_group"], parts["retain"][1][index])


def test_every_interface_gives_the_same_batches_through_a_participants_own_loader() -> None:
    for name in INTERFACES:
        fast = make_loaders(**_parts(), seed=1, batch_size=8, interface=name)
        slow = make_loaders(**_parts(), seed=1, batch_size=8, interface=name, fast=False)
        for a, b in zip(fast.retain, slow.retain, strict=True):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                a, b = list(a.values()), list(b.values())
            pairs = zip(a, b, strict=True)
            for x, y in pairs:
                assert torch.equal(x, y) and x.dtype == y.dtype, name


def test_datasets_rebuild_into_concat_and_subset_loaders() -> None:
    loaders = make_loaders(**_parts(), seed=0, batch_size=8, interface="kaggle2023")
    both = ConcatDataset([loaders.retain.dataset, loaders.val.dataset])
    assert len(both) == 100
    batch = next(iter(DataLoader(both, batch_size=16, shuffle=True)))
    assert batch["image"].shape == (16, 3, 4, 4)
    part = Subset(loaders.forget.dataset, list(range(10)))
    [only] = list(DataLoader(part, batch_size=10))
    assert torch.equal(only["image"], _parts()["forget"][0][:10])


def test_a_tuple_batch_indexed_like_a_dict_gets_a_hint_naming_the_interface() -> None:
    batch = next(iter(make_loaders(**_parts(), seed=0, batch_size=8).retain))
    try:
        batch["image"]
    except TypeError as exc:
        hint = INTERFACES["tuple"].hint(exc)
    assert hint is not None and "interface is `tuple`" in hint
    assert INTERFACES["tuple"].hint(RuntimeError("shape mismatch")) is None


def test_the_former_homes_of_the_batch_interfaces_still_give_the_same_objects() -> None:
    # Code written against harness.runs.interfaces and protocol.shuffled_loader keeps working.
    from harness.data import batches
    from harness.runs import interfaces, protocol

    for name in interfaces.__all__:
        assert getattr(interfaces, name) is getattr(batches, name)
    assert protocol.shuffled_loader is batches.shuffled_loader
