"""An evaluation's arrays: test-set losses from real models, round trips old and new."""

from __future__ import annotations

import io

import numpy as np
import pytest

from harness.data import Splits, load_dataset, make_splits
from harness.evaluate import (
    RETAIN_SAMPLE,
    Evaluation,
    evaluate_states,
    kept_retain_rows,
    kept_test_rows,
    predict_logits,
)
from harness.models import ModelSpec, build_model
from harness.phase import DatasetConfig, SplitConfig
from harness.reference.train import init_state
from harness.scoring.confidence import logit_scaled_confidence
from harness.scoring.mia import cross_entropy_losses, secondary_attacks
from worker.backend import ShardArrays


@pytest.fixture(scope="module")
def splits() -> Splits:
    return make_splits(load_dataset(DatasetConfig(kind="digits")), SplitConfig(), "public")


@pytest.fixture(scope="module")
def spec(splits: Splits) -> ModelSpec:
    return ModelSpec("mlp", splits.data.num_classes, splits.data.input_shape, hidden=(16,))


@pytest.fixture(scope="module")
def evaluation(splits: Splits, spec: ModelSpec) -> Evaluation:
    return evaluate_states(spec, [init_state(spec, seed) for seed in range(3)], splits)


def test_kept_test_rows_are_min_of_both_sizes_at_a_fixed_stride() -> None:
    assert kept_test_rows(10, 4).tolist() == [0, 2, 5, 7]
    assert kept_test_rows(3, 50).tolist() == [0, 1, 2]
    rows = kept_test_rows(1000, 999)
    assert rows.size == 999 and np.all(np.diff(rows) > 0) and rows[-1] < 1000


def test_evaluation_keeps_the_test_losses_of_each_model(
    evaluation: Evaluation, splits: Splits, spec: ModelSpec
) -> None:
    n_forget, n_test = len(splits.forget), len(splits.test)
    assert evaluation.test_losses is not None
    assert evaluation.test_losses.dtype == np.float32
    assert evaluation.test_losses.shape == (3, min(n_forget, n_test))
    model = build_model(spec)
    model.load_state_dict(init_state(spec, 1))
    x, y = splits.tensors("test")
    rows = kept_test_rows(n_test, n_forget)
    expected = cross_entropy_losses(predict_logits(model, x, device="cpu").numpy()[rows], y[rows])
    np.testing.assert_allclose(evaluation.test_losses[1], expected, rtol=1e-5, atol=1e-6)


def test_evaluation_keeps_the_margins_of_a_fixed_retain_sample(
    evaluation: Evaluation, splits: Splits, spec: ModelSpec
) -> None:
    n_retain = len(splits.retain)
    rows = kept_retain_rows(n_retain)
    assert rows.size == min(n_retain, RETAIN_SAMPLE) and np.all(np.diff(rows) > 0)
    assert kept_retain_rows(10).tolist() == list(range(10))
    assert evaluation.retain_confs is not None
    assert evaluation.retain_confs.dtype == np.float32
    assert evaluation.retain_confs.shape == (3, rows.size)
    model = build_model(spec)
    model.load_state_dict(init_state(spec, 2))
    x, y = splits.tensors("retain")
    logits = predict_logits(model, x[rows], device="cpu").numpy()
    expected = logit_scaled_confidence(logits, y[rows].numpy())
    np.testing.assert_allclose(evaluation.retain_confs[2], expected, rtol=1e-5, atol=1e-5)
    # Older arrays (reference caches, shards) load without them.
    older = {k: v for k, v in evaluation.to_arrays().items() if k != "retain_confs"}
    old = Evaluation.from_arrays(_npz(older))
    assert old.retain_confs is None and "retain_confs" not in old.to_arrays()
    shard = ShardArrays.from_bytes(_shard(evaluation, [0, 2], losses=True).to_bytes())
    assert shard.retain_confs is not None
    np.testing.assert_array_equal(shard.retain_confs, evaluation.retain_confs[[0, 2]])


def test_population_attack_runs_on_real_models_and_untrained_ones_leave_no_trace(
    evaluation: Evaluation,
) -> None:
    # Untrained models never saw the forget set: their losses on it and on test are alike.
    attacks = secondary_attacks(
        evaluation.forget_confs,
        evaluation.forget_confs,
        unlearned_test_losses=evaluation.test_losses,
        retrained_test_losses=evaluation.test_losses,
    )
    population = attacks["population"]
    assert population["models"] == 3 and population["n_per_class"] > 50
    assert abs(population["accuracy"] - 0.5) < 0.15
    assert population["retrained"]["accuracy"] == population["accuracy"]


def _npz(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return dict(loaded)


def test_evaluation_arrays_round_trip_with_and_without_test_losses(
    evaluation: Evaluation,
) -> None:
    again = Evaluation.from_arrays(_npz(evaluation.to_arrays()))
    for name, values in evaluation.to_arrays().items():
        np.testing.assert_array_equal(getattr(again, name), values)
    assert again.test_losses is not None
    older = {k: v for k, v in evaluation.to_arrays().items() if k != "test_losses"}
    old = Evaluation.from_arrays(_npz(older))  # as a reference cache of an older version
    assert old.test_losses is None and "test_losses" not in old.to_arrays()
    np.testing.assert_array_equal(old.forget_confs, evaluation.forget_confs)
    with pytest.raises(KeyError, match="test_acc"):  # only test_losses may be missing
        Evaluation.from_arrays({k: v for k, v in older.items() if k != "test_acc"})


def _shard(evaluation: Evaluation, seeds: list[int], *, losses: bool) -> ShardArrays:
    arrays = {name: values[seeds] for name, values in evaluation.to_arrays().items()}
    if not losses:
        arrays.pop("test_losses")
    return ShardArrays(
        seeds=np.asarray(seeds, dtype=np.int64),
        seconds=np.ones(len(seeds)),
        logs=np.asarray(["log"] * len(seeds), dtype=np.str_),
        **arrays,
    )


def test_shard_arrays_carry_the_test_losses_and_older_shards_load_without(
    evaluation: Evaluation,
) -> None:
    first, second = _shard(evaluation, [0, 1], losses=True), _shard(evaluation, [2], losses=True)
    joined = ShardArrays.concatenate(
        [ShardArrays.from_bytes(second.to_bytes()), ShardArrays.from_bytes(first.to_bytes())]
    )
    restored = Evaluation.from_arrays(joined.evaluation_arrays)
    assert restored.test_losses is not None
    np.testing.assert_array_equal(restored.test_losses, evaluation.test_losses)
    old = ShardArrays.from_bytes(_shard(evaluation, [2], losses=False).to_bytes())
    assert old.test_losses is None
    assert "test_losses" not in old.evaluation_arrays
    mixed = ShardArrays.concatenate([first, old])  # shards of one attempt, two versions
    assert mixed.test_losses is None and mixed.forget_confs.shape[0] == 3
    assert Evaluation.from_arrays(mixed.evaluation_arrays).test_losses is None
    assert mixed.seeds.tolist() == [0, 1, 2]
