"""The examples run on the batch interface they are written for (the starting-kit zip copies
one of them to submission.py, by the phase's interface)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

from harness.runs.interfaces import SplitData, make_loader

EXAMPLES = Path(__file__).resolve().parents[2] / "starting_kit" / "examples"


@pytest.mark.parametrize(
    ("example", "interface"),
    [("finetune.py", "tuple"), ("finetune_kaggle2023.py", "kaggle2023")],
)
def test_example_trains_on_its_interface(example, interface):
    torch.manual_seed(0)
    n = 64
    data = SplitData(
        inputs=torch.randn(n, 8), targets=torch.randint(0, 3, (n,)), ids=torch.arange(n)
    )

    def loader():
        return make_loader(
            data, interface=interface, batch_size=16, generator=torch.Generator().manual_seed(1)
        )

    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    before = [p.detach().clone() for p in net.parameters()]
    unlearning = runpy.run_path(str(EXAMPLES / example))["unlearning"]
    unlearning(net, loader(), loader(), loader())
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    # The control: the other interface's batches are refused by the tuple example.
    if interface == "kaggle2023":
        tuple_example = runpy.run_path(str(EXAMPLES / "finetune.py"))["unlearning"]
        with pytest.raises((ValueError, TypeError, KeyError)):
            tuple_example(net, loader(), loader(), loader())
