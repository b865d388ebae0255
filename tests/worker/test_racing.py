"""Racing's worker side: shard plans cut at round sizes, scoring a stop at n < N."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.evaluate import Evaluation
from harness.phase import PhaseConfig
from harness.pipeline import score
from harness.reference.cache import Prepared, Reference
from harness.scoring import score_submission
from worker.harness_backend import _first
from worker.recovery import plan_shards


def test_plan_shards_cuts_at_round_sizes_so_no_shard_straddles_two_rounds() -> None:
    plan = plan_shards(12, 5, rounds=[4, 8, 12])
    public = [seeds for split, seeds in plan if split == "public"]
    assert public == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert plan_shards(7, 3) == plan_shards(7, 3, rounds=())  # no racing: as before
    assert [s for _, s in plan_shards(7, 3)][:3] == [[0, 1, 2], [3, 4, 5], [6]]


def _evaluation(rng: np.random.Generator, n: int, shift: float) -> Evaluation:
    return Evaluation(
        forget_logits=np.zeros((n, 20, 2), dtype=np.float32),
        forget_confs=rng.normal(shift, 1.0, size=(n, 20)),
        retain_acc=rng.uniform(0.8, 1.0, size=n),
        forget_acc=rng.uniform(0.5, 1.0, size=n),
        test_acc=rng.uniform(0.6, 0.8, size=n),
    )


def test_a_stop_at_n_is_scored_against_the_first_n_reference_models(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    reference = Reference(
        key="k",
        directory=tmp_path / "ref",
        original={},
        evaluation=_evaluation(rng, 16, 0.0),
        retrain_seconds=1.0,
        meta={},
        cached=True,
    )
    prepared = Prepared(phase=PhaseConfig(), splits=None, spec=None, reference=reference)  # type: ignore[arg-type]
    unlearned = _evaluation(rng, 8, 0.5)
    assert _first(prepared, 16) is prepared
    cut = _first(prepared, 8)
    result = score(cut, unlearned, estimator="neurips2023")
    expected = score_submission(
        unlearned_confs=unlearned.forget_confs,
        retrained_confs=reference.evaluation.forget_confs[:8],
        unlearned_retain_acc=unlearned.retain_acc,
        retrained_retain_acc=reference.evaluation.retain_acc[:8],
        unlearned_test_acc=unlearned.test_acc,
        retrained_test_acc=reference.evaluation.test_acc[:8],
        estimator="neurips2023",
    )
    assert result.final_score == pytest.approx(expected.final_score)
    assert result.n_models == 8
    # The noise floor of the first 8 models is cached apart from the full reference's.
    assert (tmp_path / "ref" / "first-8" / "noise_floor.json").is_file()
    assert not (tmp_path / "ref" / "noise_floor.json").exists()
