"""The synthetic probe of bench/scoring_probe.py: resolution at the top for ``pooled``.

Gaussian confidences, N = 64 models per side, 100 forget examples, the unlearned side
shifted by d standard deviations of each example's spread (one set of draws for every d).
"""

from __future__ import annotations

import pytest

from bench.scoring_probe import probe

SHIFTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_pooled_stays_near_one_for_a_perfect_unlearner_and_orders_small_shifts(
    seed: int,
) -> None:
    points = probe("pooled", SHIFTS, n_models=64, n_examples=100, n_bootstrap=40, seed=seed)
    by_shift = {point.shift: point for point in points}
    assert by_shift[0.0].forget_quality >= 0.9
    assert by_shift[0.5].forget_quality <= 0.8
    values = [point.forget_quality for point in points]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False)), values
    assert values[0] > values[-1]
    for point in points:
        low, high = point.interval
        assert low <= point.forget_quality <= high
    # The interval tells a perfect unlearner from a half-sd shift, not only the estimate.
    assert by_shift[0.5].interval[1] < by_shift[0.0].interval[0]


def test_calibrated_cannot_tell_a_half_sd_shift_from_a_perfect_unlearner_at_n64() -> None:
    # The control: the gap the pooled estimator closes (the audit's bounds are too wide).
    points = probe("calibrated", (0.0, 0.5), n_models=64, n_examples=100, n_bootstrap=20)
    assert points[0].forget_quality >= 0.9 and points[1].forget_quality > 0.8
