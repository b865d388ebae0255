"""Weights read back from an untrusted folder: links, sizes, formats and architecture checks."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from harness.checkpoint import load_weights, read_regular_file, save_weights, validate_state
from harness.errors import BadOutput
from harness.models import ModelSpec, build_model

SPEC = ModelSpec(name="mlp", num_classes=3, input_shape=(4,), hidden=(8,))


def reference_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_model(SPEC).state_dict()


def test_load_weights_round_trips_a_saved_model(tmp_path: Path) -> None:
    state = reference_state()
    save_weights(state, tmp_path / "w.safetensors")
    loaded = load_weights(tmp_path / "w.safetensors")
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    validate_state(loaded, state)


def test_load_weights_refuses_a_symlink(tmp_path: Path) -> None:
    save_weights(reference_state(), tmp_path / "real.safetensors")
    os.symlink(tmp_path / "real.safetensors", tmp_path / "link.safetensors")
    with pytest.raises(BadOutput, match="plain file"):
        load_weights(tmp_path / "link.safetensors")


def test_load_weights_refuses_a_hard_link(tmp_path: Path) -> None:
    save_weights(reference_state(), tmp_path / "real.safetensors")
    os.link(tmp_path / "real.safetensors", tmp_path / "hard.safetensors")
    with pytest.raises(BadOutput, match="hard link"):
        load_weights(tmp_path / "hard.safetensors")


def test_load_weights_refuses_a_pickle_payload(tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").write_bytes(pickle.dumps(reference_state()))
    with pytest.raises(BadOutput, match="not a valid safetensors"):
        load_weights(tmp_path / "w.safetensors")


def test_read_regular_file_refuses_oversized_files(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2048)
    with pytest.raises(BadOutput, match="exceeds the limit"):
        read_regular_file(tmp_path / "big", max_bytes=1024)


def test_read_regular_file_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(BadOutput, match="not a regular file"):
        read_regular_file(tmp_path / "fifo", max_bytes=1024)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.pop("1.weight"), "missing parameters"),
        (lambda s: s.__setitem__("extra", torch.zeros(1)), "unexpected parameters"),
        (lambda s: s.__setitem__("1.weight", torch.zeros(3, 3)), "shape"),
        (lambda s: s.__setitem__("1.weight", s["1.weight"].double()), "dtype"),
        (lambda s: s["1.bias"].__setitem__(0, float("nan")), "NaN"),
    ],
)
def test_validate_state_rejects_a_changed_architecture(mutate, message: str) -> None:
    reference = reference_state()
    state = {k: v.clone() for k, v in reference.items()}
    mutate(state)
    with pytest.raises(BadOutput, match=message):
        validate_state(state, reference)
