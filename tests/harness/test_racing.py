"""The racing rule (harness.scoring.racing): rounds, the stopping decision, simulated boards.

Simulated boards: each submission has an expected score mu; its round-n score is mu plus a
drift d(n) that every submission shares (the estimator's dependence on N) plus the mean
of its first n per-run errors, so the rounds of one submission are nested as real runs
are; its interval is exact (score +- z * sigma / sqrt(n)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from harness.scoring import score_submission
from harness.scoring.prediction import predict
from harness.scoring.racing import (
    RaceResult,
    RacingConfig,
    RoundScore,
    board_cut,
    decide,
    race,
    race_board,
    round_score,
)

N_TOTAL = 256


def rs(n: int, score: float, half_width: float) -> RoundScore:
    return RoundScore(n=n, score=score, low=score - half_width, high=score + half_width)


def flat_row(score: float, half_width: float = 0.01) -> dict[int, RoundScore]:
    """A board row with the same score at every round of the default config."""
    return {n: rs(n, score, half_width) for n in RacingConfig().rounds(N_TOTAL)}


def simulated_board(
    rng: np.random.Generator,
    mus: np.ndarray,
    *,
    config: RacingConfig,
    sigma: float = 0.3,
    drift: float = 0.2,
) -> dict[str, dict[int, RoundScore]]:
    """Scores of every submission at every round size (see the module docstring)."""
    z = stats.norm.ppf(1 - (1 - config.confidence(N_TOTAL)) / 2)
    profiles = {}
    for i, mu in enumerate(mus):
        errors = rng.normal(0.0, sigma, size=N_TOTAL)
        profile = {}
        for n in config.rounds(N_TOTAL):
            score = mu + drift * 32 / n + errors[:n].mean()  # drift shrinks with n
            profile[n] = rs(n, score, z * sigma / np.sqrt(n))
        profiles[f"s{i}"] = profile
    return profiles


def test_rounds_double_up_to_the_phase_n() -> None:
    config = RacingConfig(first_round=32)
    assert config.rounds(256) == [32, 64, 128, 256]
    assert config.rounds(100) == [32, 64, 100]
    assert config.rounds(20) == [20]
    assert config.looks(256) == 3


def test_confidence_splits_the_error_rate_over_the_looks() -> None:
    config = RacingConfig(error_rate=0.06)
    assert config.confidence(256) == pytest.approx(1 - 0.06 / 3)
    assert config.confidence(20) == pytest.approx(1 - 0.06)  # one round: never stops


@pytest.mark.parametrize(
    "settings",
    [{"top_k": 0}, {"first_round": 1}, {"error_rate": 0.0}, {"error_rate": 1.0}, {"max_width": 0}],
)
def test_config_rejects_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        RacingConfig(**settings)  # type: ignore[arg-type]


def test_config_round_trips_and_refuses_unknown_keys() -> None:
    config = RacingConfig(top_k=3, max_width=0.1, rule="full_n")
    assert RacingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="rule must be one of"):
        RacingConfig(rule="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown racing settings: topk"):
        RacingConfig.from_dict({"topk": 3})


def test_round_score_rejects_a_score_outside_its_interval() -> None:
    with pytest.raises(ValueError, match="must lie in its interval"):
        RoundScore(n=32, score=0.5, low=0.6, high=0.7)


def test_decide_never_stops_the_last_round_or_before_k_rows() -> None:
    config = RacingConfig(top_k=2)
    weak = rs(32, 0.0, 0.01)
    board = [flat_row(0.9)]
    assert decide(config, current=weak, n_total=N_TOTAL, board=board).reason == "board_not_full"
    board.append(flat_row(0.8))
    assert decide(config, current=weak, n_total=N_TOTAL, board=board).stop
    last = rs(N_TOTAL, 0.0, 0.01)
    assert decide(config, current=last, n_total=N_TOTAL, board=board).reason == "full"


def test_decide_stops_only_below_the_kth_lower_bound() -> None:
    config = RacingConfig(top_k=2)
    board = [flat_row(0.9, 0.05), flat_row(0.5, 0.05), flat_row(0.2, 0.05)]
    assert board_cut(board, n=32, top_k=2) == pytest.approx(0.45)
    below = decide(config, current=rs(32, 0.40, 0.04), n_total=N_TOTAL, board=board)
    assert below.stop and below.reason == "out_of_reach" and below.cut == pytest.approx(0.45)
    touching = decide(config, current=rs(32, 0.40, 0.06), n_total=N_TOTAL, board=board)
    assert not touching.stop and touching.reason == "contender"


def test_decide_compares_at_equal_n() -> None:
    """Board rows score higher at N than at 32 (the estimator's drift): a submission is
    held against their round-32 bounds, not their full-N scores."""
    config = RacingConfig(top_k=1, rule="equal_n")
    row = {32: rs(32, 0.30, 0.05), 64: rs(64, 0.40, 0.04), 128: rs(128, 0.45, 0.03)}
    row[N_TOTAL] = rs(N_TOTAL, 0.50, 0.02)
    current = rs(32, 0.28, 0.05)  # below the row's full-N score, level with its round 32
    decision = decide(config, current=current, n_total=N_TOTAL, board=[row])
    assert not decision.stop and decision.cut == pytest.approx(0.25)


def test_decide_ignores_rows_without_a_score_at_that_round() -> None:
    config = RacingConfig(top_k=1, rule="equal_n")
    stopped_early = {32: rs(32, 0.9, 0.01)}
    current = rs(64, 0.1, 0.01)
    assert decide(config, current=current, n_total=N_TOTAL, board=[stopped_early]).reason == (
        "board_not_full"
    )


def test_width_rule_stops_a_narrow_row_below_the_kth_score_only_when_set() -> None:
    board = [flat_row(0.6, 0.1), flat_row(0.5, 0.1)]
    current = rs(32, 0.44, 0.02)  # overlaps the cut (0.4) but lies below the 2nd score (0.5)
    assert not decide(RacingConfig(top_k=2), current=current, n_total=N_TOTAL, board=board).stop
    settled = decide(
        RacingConfig(top_k=2, max_width=0.05), current=current, n_total=N_TOTAL, board=board
    )
    assert settled.stop and settled.reason == "settled"
    wide = rs(32, 0.44, 0.03)
    assert not decide(
        RacingConfig(top_k=2, max_width=0.05), current=wide, n_total=N_TOTAL, board=board
    ).stop


def test_race_stops_a_weak_submission_at_the_first_round() -> None:
    config = RacingConfig(top_k=2)
    board = [flat_row(0.9), flat_row(0.8)]
    calls: list[int] = []

    def score_at(n: int) -> RoundScore:
        calls.append(n)
        return rs(n, 0.1, 0.05)

    result = race(config, n_total=N_TOTAL, score_at=score_at, board=board)
    assert calls == [32] and result.n_used == 32 and result.provisional
    strong = race(config, n_total=N_TOTAL, score_at=lambda n: rs(n, 0.85, 0.2), board=board)
    assert strong.n_used == N_TOTAL and not strong.provisional and strong.reason == "full"


def test_race_board_keeps_the_best_k_of_each_round_running() -> None:
    config = RacingConfig(top_k=3, rule="equal_n")
    rng = np.random.default_rng(1)
    profiles = simulated_board(rng, np.linspace(0.0, 1.0, 20), config=config, sigma=0.5)
    results = race_board(
        config, n_total=N_TOTAL, score_at=lambda name, n: profiles[name][n], names=list(profiles)
    )
    for n in config.rounds(N_TOTAL)[:-1]:
        ran = [name for name, r in results.items() if r.n_used >= n]
        best = sorted(ran, key=lambda name: profiles[name][n].score, reverse=True)[:3]
        assert all(results[name].n_used > n for name in best)
    assert sum(not r.provisional for r in results.values()) >= 3


def _top(scores: dict[str, float], k: int) -> list[str]:
    return sorted(scores, key=lambda name: scores[name], reverse=True)[:k]


def test_simulated_boards_keep_the_top_k_and_save_runs() -> None:
    """200 boards of 24 with spread-out strengths: the published top 5 (full-N rows only)
    matches full-N evaluation on at least 1 - error_rate of them, with far fewer runs."""
    config = RacingConfig(top_k=5, error_rate=0.05, rule="equal_n")
    rng = np.random.default_rng(7)
    changed, runs = 0, []
    for _ in range(200):
        mus = np.sort(rng.uniform(0.0, 1.0, size=24))
        profiles = simulated_board(rng, mus, config=config, sigma=0.3)
        results = race_board(
            config,
            n_total=N_TOTAL,
            score_at=lambda name, n, profiles=profiles: profiles[name][n],
            names=list(profiles),
        )
        full = {name: p[N_TOTAL].score for name, p in profiles.items()}
        exact = {name: r.final.score for name, r in results.items() if not r.provisional}
        changed += _top(exact, 5) != _top(full, 5)
        runs.append(sum(r.n_used for r in results.values()) / (24 * N_TOTAL))
    assert changed / 200 <= config.error_rate
    assert np.mean(runs) < 0.5


def test_error_rate_holds_for_a_submission_tied_with_the_top_k() -> None:
    """The hardest case for the guarantee: a submission whose expected score equals the
    k-th row's. It may be stopped in at most error_rate of its races."""
    config = RacingConfig(top_k=1, error_rate=0.1)
    rng = np.random.default_rng(3)
    stopped = 0
    trials = 2000
    for _ in range(trials):
        profiles = simulated_board(rng, np.array([0.5, 0.5]), config=config, sigma=0.3)
        result = race(
            config,
            n_total=N_TOTAL,
            score_at=lambda n, p=profiles: p["s1"][n],
            board=[profiles["s0"]],
        )
        stopped += result.provisional
    # Each stop needs two intervals to miss on opposite sides: well under the bound.
    assert stopped / trials <= config.error_rate


def test_comparing_round_n_against_full_n_scores_would_stop_true_leaders() -> None:
    """Why the rule compares at equal n: with a drift that lowers every score at small n,
    holding round 32 against the leaders' full-N bounds stops equals of the leaders."""
    config = RacingConfig(top_k=1, rule="equal_n")
    rng = np.random.default_rng(5)
    wrong = right = 0
    for _ in range(300):
        profiles = simulated_board(rng, np.array([0.5, 0.5]), config=config, drift=-0.3)
        leader, newcomer = profiles["s0"], profiles["s1"]
        unequal_board = [{n: leader[N_TOTAL] for n in leader}]
        wrong += decide(config, current=newcomer[32], n_total=N_TOTAL, board=unequal_board).stop
        right += decide(config, current=newcomer[32], n_total=N_TOTAL, board=[leader]).stop
    assert wrong / 300 > 0.5
    assert right / 300 <= config.error_rate


def test_round_score_scores_the_first_n_of_both_sides() -> None:
    rng = np.random.default_rng(0)
    unlearned, retrained = rng.normal(size=(40, 30)), rng.normal(0.3, 1.0, size=(40, 30))
    accuracies = {name: rng.uniform(0.5, 1.0, size=40) for name in ("ur", "rr", "ut", "rt")}
    arrays = {
        "unlearned_confs": unlearned,
        "retrained_confs": retrained,
        "unlearned_retain_acc": accuracies["ur"],
        "retrained_retain_acc": accuracies["rr"],
        "unlearned_test_acc": accuracies["ut"],
        "retrained_test_acc": accuracies["rt"],
    }
    got = round_score(n=16, estimator="calibrated", confidence=0.9, n_bootstrap=20, **arrays)
    expected = score_submission(
        **{name: values[:16] for name, values in arrays.items()},
        estimator="calibrated",
        n_bootstrap=20,
        confidence=0.9,
        noise_floor=0.0,
    )
    assert got.n == 16 and got.score == expected.final_score
    assert (got.low, got.high) == expected.final_score_ci
    with pytest.raises(ValueError, match="round n=64 needs 64"):
        round_score(n=64, estimator="calibrated", confidence=0.9, **arrays)
    # Under two originals (run i from original i mod 2) the round's interval resamples
    # them as the final score's does: the first 16 runs' labels, the same draws.
    labels = np.arange(40) % 2
    clustered = round_score(
        n=16, estimator="calibrated", confidence=0.9, n_bootstrap=20, originals=labels, **arrays
    )
    expected = score_submission(
        **{name: values[:16] for name, values in arrays.items()},
        estimator="calibrated",
        n_bootstrap=20,
        confidence=0.9,
        noise_floor=0.0,
        originals=labels[:16],
    )
    assert (clustered.low, clustered.high) == expected.final_score_ci != (got.low, got.high)


def test_rules_on_a_board_whose_scores_fall_with_n_at_method_specific_rates() -> None:
    """As the calibrated estimator does on real submissions: every score falls with n
    towards its own level at N, from an excess that differs between methods. Equal-n
    comparison then stops future leaders; "full_n" and "both" keep them."""
    rng = np.random.default_rng(11)
    changed = dict.fromkeys(("equal_n", "full_n", "both"), 0)
    for _ in range(100):
        mus = rng.uniform(0.0, 1.0, size=16)
        profiles = {}
        for i, mu in enumerate(mus):
            errors = rng.normal(0.0, 0.2, size=N_TOTAL)
            excess = rng.uniform(0.0, 1.0)  # what the audit cannot see yet at n = 32
            profile = {}
            for n in RacingConfig().rounds(N_TOTAL):
                level = mu + excess * 32 / (n - 16)  # 2 x excess at 32, ~0 at N
                profile[n] = rs(n, level + errors[:n].mean(), 2.5 * 0.2 / np.sqrt(n))
            profiles[f"s{i}"] = profile
        full = {name: p[N_TOTAL].score for name, p in profiles.items()}
        for rule in changed:
            config = RacingConfig(top_k=3, rule=rule)
            results: dict[str, RaceResult] = {}
            for name in profiles:  # arrivals, one after another
                results[name] = race(
                    config,
                    n_total=N_TOTAL,
                    score_at=lambda n, name=name, p=profiles: p[name][n],
                    board=[r.profile for r in results.values()],
                )
            exact = {name: r.final.score for name, r in results.items() if not r.provisional}
            changed[rule] += _top(exact, 3) != _top(full, 3)
    assert changed["equal_n"] > 20
    assert changed["full_n"] <= 5 and changed["both"] <= 5


# The rule "predicted": every round estimates the full-N score ------------------------------


def test_predicted_rule_holds_each_row_at_its_full_n_estimate() -> None:
    """Rows count with their score at N, else with their prediction at this same round; a
    row that stopped at another round neither holds a newcomer back nor stops it."""
    config = RacingConfig(top_k=2, rule="predicted")
    exact = {**flat_row(0.3), N_TOTAL: rs(N_TOTAL, 0.8, 0.01)}  # its N entry is what counts
    alongside = {32: rs(32, 0.7, 0.01)}
    stopped_at_64 = {32: rs(32, 0.9, 0.01), 64: rs(64, 0.95, 0.01)}
    board = [exact, alongside, stopped_at_64]
    first = decide(config, current=rs(32, 0.5, 0.05), n_total=N_TOTAL, board=board)
    assert first.stop and first.cut == pytest.approx(0.79)  # lows 0.89, 0.79, 0.69
    later = decide(config, current=rs(128, 0.1, 0.01), n_total=N_TOTAL, board=board)
    assert not later.stop and later.reason == "board_not_full"  # only `exact` counts at 128
    close = decide(config, current=rs(32, 0.76, 0.05), n_total=N_TOTAL, board=board)
    assert not close.stop and close.reason == "contender"


def test_simulated_boards_under_predicted_keep_the_top_k_with_k_rows_at_full_n() -> None:
    """Unbiased predictions of each row's full-N score (no drift with n), raced together
    and on arrival: the top 5 is kept on at least 1 - error_rate of 100 boards, k rows
    always reach N, and far fewer runs are spent."""
    config = RacingConfig(top_k=5, error_rate=0.05, rule="predicted")
    rng = np.random.default_rng(13)
    changed, runs = 0, []
    for board in range(100):
        mus = np.sort(rng.uniform(0.0, 1.0, size=24))
        profiles = simulated_board(rng, mus, config=config, sigma=0.3, drift=0.0)
        if board % 2:
            results = race_board(
                config,
                n_total=N_TOTAL,
                score_at=lambda name, n, profiles=profiles: profiles[name][n],
                names=list(profiles),
            )
        else:
            results = {}
            for name in rng.permutation(list(profiles)):
                results[name] = race(
                    config,
                    n_total=N_TOTAL,
                    score_at=lambda n, p=profiles[name]: p[n],
                    board=[r.profile for r in results.values()],
                )
        exact = {name: r.final.score for name, r in results.items() if not r.provisional}
        assert len(exact) >= 5
        full = {name: p[N_TOTAL].score for name, p in profiles.items()}
        changed += _top(exact, 5) != _top(full, 5)
        runs.append(sum(r.n_used for r in results.values()) / (24 * N_TOTAL))
    assert changed / 100 <= config.error_rate
    assert np.mean(runs) < 0.6


def _gaussian_world(seed: int, n_models: int = 128, n_examples: int = 60) -> dict[str, Any]:
    """Confidences that follow the prediction's model: per forget example, Gaussian over
    seeds on both sides; a third of the examples far from the reference, a third near,
    a third exactly at it. Equal accuracies (utility 1)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0.0, 2.0, size=n_examples)
    shift = np.array([1.5, 0.5, 0.0])[np.arange(n_examples) % 3]
    accuracy = np.full(n_models, 0.9)
    return {
        "unlearned_confs": level + shift + rng.normal(size=(n_models, n_examples)),
        "retrained_confs": level + rng.normal(size=(n_models, n_examples)),
        "unlearned_retain_acc": accuracy,
        "retrained_retain_acc": accuracy,
        "unlearned_test_acc": accuracy,
        "retrained_test_acc": accuracy,
        "estimator": "neurips2023",
    }


def test_prediction_from_few_runs_estimates_the_full_n_score() -> None:
    """Where its model holds, the prediction from 16 of 128 runs lands near the full-N
    score and its interval holds it, while the plain score at 16 estimates another number."""
    held, predicted_errors, plain_errors = 0, [], []
    for seed in range(4):
        world = _gaussian_world(seed)
        full = round_score(n=128, confidence=0.95, n_bootstrap=1, **world).score
        plain = round_score(n=16, confidence=0.95, n_bootstrap=1, **world).score
        predicted = round_score(n=16, confidence=0.95, n_bootstrap=40, predict=True, **world)
        held += predicted.low <= full <= predicted.high
        predicted_errors.append(abs(predicted.score - full))
        plain_errors.append(abs(plain - full))
    assert held >= 3
    assert np.mean(predicted_errors) < 0.7 * np.mean(plain_errors)


def test_prediction_at_n_equal_to_the_references_is_the_plain_score() -> None:
    world = _gaussian_world(0, n_models=32, n_examples=12)
    plain = round_score(n=32, confidence=0.9, n_bootstrap=5, **world)
    assert round_score(n=32, confidence=0.9, n_bootstrap=5, predict=True, **world) == plain


def test_prediction_refuses_inputs_it_cannot_fit() -> None:
    world = _gaussian_world(0, n_models=32, n_examples=12)
    runs = {key: value for key, value in world.items() if key != "estimator"}
    one_run = {**runs, "unlearned_confs": runs["unlearned_confs"][:1]}
    with pytest.raises(ValueError, match="from 2 runs or more"):
        predict(one_run, estimator="neurips2023", n_bootstrap=2)
    other_examples = {**runs, "unlearned_confs": runs["unlearned_confs"][:, :5]}
    with pytest.raises(ValueError, match="same S"):
        predict(other_examples, estimator="neurips2023", n_bootstrap=2)


@pytest.mark.parametrize("case", ["all constant", "one run apart", "constant example"])
def test_prediction_handles_runs_that_show_no_spread(case: str) -> None:
    """Runs a method leaves identical (do-nothing, saturated confidences), or all alike but
    one, still give a finite prediction inside its interval: nothing to fit is no crash."""
    world = _gaussian_world(1, n_models=32, n_examples=12)
    runs = world["unlearned_confs"][:8].copy()
    if case == "all constant":
        runs[:] = 3.0
    elif case == "one run apart":
        runs[:] = 3.0
        runs[0, 0] = 9.0
    else:
        runs[:, 0] = 3.0
    world["unlearned_confs"] = np.concatenate([runs, world["unlearned_confs"][8:]])
    got = round_score(n=8, confidence=0.9, n_bootstrap=20, predict=True, **world)
    assert got.low <= got.score <= got.high and np.isfinite([got.low, got.high]).all()
