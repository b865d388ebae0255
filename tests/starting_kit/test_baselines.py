"""Every starting-kit baseline is a valid, self-contained submission whose runs differ.

Each baseline runs through the harness's own submission path (`load_submission`,
`make_loaders`, `run_once`) on a tiny MLP and tiny random data, and its weights are checked
with `validate_state`, as the trusted side checks a sandbox's output.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch

from harness.checkpoint import validate_state
from harness.models import ModelSpec, build_model
from harness.runs.protocol import load_submission, make_loaders, run_once
from starting_kit.baselines import BASELINES

BASELINE_DIR = Path(__file__).resolve().parents[2] / "starting_kit" / "baselines"
DETERMINISTIC = {"do_nothing"}  # the only baseline whose runs are meant to be identical
ALLOWED_THIRD_PARTY = {"torch", "torchvision", "numpy"}  # what the sandbox image holds


def _tiny_data(
    *, input_shape: tuple[int, ...], classes: int, sizes: tuple[int, int, int]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    split = {}
    for name, size in zip(("retain", "forget", "val"), sizes, strict=True):
        x = torch.randn(size, *input_shape, generator=generator)
        y = torch.randint(0, classes, (size,), generator=generator)
        split[name] = (x, y)
    return split


def _run(
    name: str, spec: ModelSpec, data: dict, *, seed: int, batch_size: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One run of baseline `name` from a fixed original model: (original, unlearned) states."""
    torch.manual_seed(1234)
    net = build_model(spec)
    original = {k: v.clone() for k, v in net.state_dict().items()}
    fn = load_submission(BASELINE_DIR / f"{name}.py")
    loaders = make_loaders(**data, seed=seed, batch_size=batch_size)
    run_once(fn, net, loaders, seed=seed, submission_dir=BASELINE_DIR)
    return original, net.state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_baselines_registry_matches_files() -> None:
    files = {p.stem for p in BASELINE_DIR.glob("*.py") if p.stem != "__init__"}
    assert files == set(BASELINES)


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_imports_only_what_the_sandbox_has(name: str) -> None:
    tree = ast.parse((BASELINE_DIR / f"{name}.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    outside = imported - ALLOWED_THIRD_PARTY - set(sys.stdlib_module_names)
    assert not outside, f"{name}.py imports {sorted(outside)}; a submission gets only torch"
    assert "arXiv" in (ast.get_docstring(tree) or ""), f"{name}.py must cite its source"


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_returns_valid_model_and_runs_differ_on_tiny_mlp(name: str) -> None:
    spec = ModelSpec(name="mlp", num_classes=4, input_shape=(8,), hidden=(16,))
    # Three forget batches: the seed's shuffle then changes which examples each step sees,
    # so two seeds' runs differ on any CPU (with one batch they differ only by rounding).
    data = _tiny_data(input_shape=(8,), classes=4, sizes=(64, 48, 16))
    original, first = _run(name, spec, data, seed=0, batch_size=16)
    _, again = _run(name, spec, data, seed=0, batch_size=16)
    _, second = _run(name, spec, data, seed=1, batch_size=16)

    validate_state(first, original)
    validate_state(second, original)
    assert _same(first, again), "the same seed must give the same weights"
    if name in DETERMINISTIC:
        assert _same(first, original)
        assert _same(first, second)
    else:
        assert not _same(first, original), f"{name} left the model unchanged"
        assert not _same(first, second), f"{name} gives identical runs for two seeds (scores 0)"


@pytest.mark.slow
@pytest.mark.parametrize("name", BASELINES)
def test_baseline_runs_on_resnet18(name: str) -> None:
    """No layer names are hard-coded: each baseline also runs on torchvision's resnet18.

    The passes are cut to one so that the smoke test stays short on a 2-core CPU.
    """
    spec = ModelSpec(name="resnet18", num_classes=4, input_shape=(3, 16, 16))
    data = _tiny_data(input_shape=(3, 16, 16), classes=4, sizes=(16, 8, 8))
    torch.manual_seed(1234)
    net = build_model(spec)
    original = {k: v.clone() for k, v in net.state_dict().items()}
    fn = load_submission(BASELINE_DIR / f"{name}.py")
    if "EPOCHS" in fn.__globals__:
        fn.__globals__["EPOCHS"] = 1
    loaders = make_loaders(**data, seed=0, batch_size=8)
    run_once(fn, net, loaders, seed=0, submission_dir=BASELINE_DIR)
    validate_state(net.state_dict(), original)
    assert _same(net.state_dict(), original) == (name in DETERMINISTIC)
