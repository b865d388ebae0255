"""Training: seeded, stacked replicas equal single trainings, class weights."""

from __future__ import annotations

import pytest
import torch

from harness.data.batches import shuffled_loader
from harness.models import ModelSpec, build_model
from harness.phase import TrainRecipe
from harness.reference.train import (
    TrainData,
    class_weights,
    epoch_order,
    init_state,
    replica_trainer,
    train_model,
    train_replicas,
)

SPEC = ModelSpec("mlp", num_classes=3, input_shape=(6,), hidden=(16, 16))


@pytest.fixture(scope="module")
def data() -> TrainData:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(150, 6, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 1).long()
    return TrainData(x, y, 3)


def test_init_state_depends_on_seed_only_and_leaves_global_rng_alone() -> None:
    before = torch.get_rng_state()
    a, b, c = init_state(SPEC, 1), init_state(SPEC, 1), init_state(SPEC, 2)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["1.weight"], c["1.weight"])


def test_epoch_order_replays_the_loader_order() -> None:
    x = torch.arange(20)
    real = shuffled_loader((x, x), batch_size=6, generator=torch.Generator().manual_seed(5))
    shadow = shuffled_loader((x,), batch_size=6, generator=torch.Generator().manual_seed(5))
    for _ in range(3):
        seen = torch.cat([inputs for inputs, _ in real])
        assert torch.equal(seen, epoch_order(shadow))


@pytest.mark.parametrize(
    "recipe",
    [
        TrainRecipe(epochs=3, batch_size=32),
        TrainRecipe(
            epochs=3,
            optimizer="sgd",
            lr=0.05,
            weight_decay=1e-3,
            schedule="cosine",
            batch_size=32,
            class_weighted=True,
        ),
    ],
)
def test_stacked_replicas_equal_models_trained_alone(data: TrainData, recipe: TrainRecipe) -> None:
    stacked = train_replicas(SPEC, recipe, data, seeds=[4, 9])
    for seed, state in zip([4, 9], stacked, strict=True):
        alone, _ = train_model(SPEC, recipe, data, seed=seed)
        for name in alone:
            torch.testing.assert_close(state[name], alone[name], atol=1e-4, rtol=1e-4)


def _images(channels: int, side: int, n: int = 48) -> TrainData:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n, channels, side, side, generator=generator)
    y = (x[:, 0].mean((1, 2)) > 0).long() + (x[:, -1].mean((1, 2)) > 0.1).long()
    return TrainData(x, y, 3)


@pytest.mark.parametrize(
    ("spec", "recipe"),
    [
        (ModelSpec("cnn", 3, (1, 8, 8)), TrainRecipe(epochs=2, batch_size=16)),
        (
            ModelSpec("cnn", 3, (3, 8, 8)),
            TrainRecipe(
                epochs=2,
                optimizer="sgd",
                lr=0.05,
                weight_decay=1e-3,
                schedule="cosine",
                batch_size=20,
                class_weighted=True,
            ),
        ),
        # BatchNorm: each replica's running statistics follow its own batches.
        # BatchNorm over 16 examples (1x1 maps in the last stage) amplifies float32
        # rounding from step to step: a looser tolerance. In float64 one step's gradients
        # of both ways agree to 1e-15 (measured), so this is rounding, not a difference.
        pytest.param(
            ModelSpec("resnet18", 3, (3, 16, 16)),
            TrainRecipe(epochs=1, optimizer="sgd", lr=0.01, batch_size=16),
            marks=pytest.mark.slow,
        ),
    ],
    ids=["cnn-adam", "cnn-sgd-weighted", "resnet18-sgd"],
)
def test_vmapped_replicas_equal_models_trained_alone(spec: ModelSpec, recipe: TrainRecipe) -> None:
    data = _images(
        spec.input_shape[0], spec.input_shape[1], n=32 if spec.name == "resnet18" else 48
    )
    batched = train_replicas(spec, recipe, data, seeds=[3, 8], stacked=True)
    assert len(batched) == 2
    for seed, state in zip([3, 8], batched, strict=True):
        alone, _ = train_model(spec, recipe, data, seed=seed)
        assert list(state) == list(alone)
        tolerance = 2e-3 if spec.name == "resnet18" else 2e-4
        for name in alone:
            torch.testing.assert_close(state[name], alone[name], atol=tolerance, rtol=tolerance)
    # The two replicas really trained apart (different seeds, different weights).
    first = next(iter(batched[0]))
    assert not torch.equal(batched[0][first], batched[1][first])


def test_training_learns_the_task(data: TrainData) -> None:
    (state,) = train_replicas(SPEC, TrainRecipe(epochs=30, lr=1e-2, batch_size=32), data, seeds=[0])
    model = build_model(SPEC)
    model.load_state_dict(state)
    accuracy = (model(data.x).argmax(1) == data.y).float().mean().item()
    assert accuracy > 0.9


def test_class_weights_are_inverse_frequency() -> None:
    weights = class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])


def test_replica_trainer_trains_resnets_alone_on_cpu_only() -> None:
    image = (3, 32, 32)
    assert replica_trainer(SPEC, "cpu") == "stacked"
    assert replica_trainer(ModelSpec("cnn", 10, image), "cpu") == "vmapped"
    for name in ("resnet18", "resnet18-small"):
        assert replica_trainer(ModelSpec(name, 10, image), "cpu") == "alone"
        assert replica_trainer(ModelSpec(name, 10, image), "cuda") == "vmapped"


def test_reference_key_changes_only_for_references_trained_alone() -> None:
    from harness.data import load_dataset, make_splits
    from harness.phase import DatasetConfig, PhaseConfig
    from harness.reference.cache import _reference_key

    phase = PhaseConfig(dataset=DatasetConfig(kind="digits"), model="resnet18-small")
    splits = make_splits(load_dataset(phase.dataset), phase.split)
    stacked, vmapped, alone = (
        _reference_key(phase, splits, trainer=how) for how in ("stacked", "vmapped", "alone")
    )
    assert stacked == vmapped  # the keys of existing references are unchanged
    assert alone != vmapped  # models trained another way never answer for them


def test_a_batch_norm_model_trains_when_an_epoch_leaves_a_last_batch_of_one() -> None:
    """17 examples in batches of 16: BatchNorm cannot normalise the lone last example, so
    the trainers skip it (they once failed preparing the phase); alone and vmapped agree."""
    spec = ModelSpec("resnet18-small", 3, (3, 16, 16))
    recipe = TrainRecipe(epochs=1, optimizer="sgd", lr=0.01, batch_size=16)
    data = _images(3, 16, n=17)
    alone, _ = train_model(spec, recipe, data, seed=3)
    [batched] = train_replicas(spec, recipe, data, seeds=[3], stacked=True)
    for name in alone:
        torch.testing.assert_close(batched[name], alone[name], atol=2e-3, rtol=2e-3)
    # Control: the model really refuses a batch of one in training.
    model = build_model(spec).train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        model(data.x[:1])
