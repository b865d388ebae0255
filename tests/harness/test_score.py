"""The scorer against the organisers' golden cases, and its public contract."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from harness.scoring import (
    ESTIMATORS,
    ScoreReport,
    bucket_points,
    forget_quality,
    noise_floor,
    score_submission,
    statistically_tied,
)
from harness.scoring.confidence import logit_scaled_confidence
from harness.scoring.neurips2023 import (
    _left_edge,
    _torch_float32_linspace,
    neurips2023_epsilons,
)
from tests.harness.golden import GOLDEN_CASES, REPO_ROOT, load_golden


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    return load_golden()


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_neurips2023_reproduces_golden_case(golden: dict[str, np.ndarray], case: str) -> None:
    result = forget_quality(
        golden[f"{case}__unlearned_confs"],
        golden[f"{case}__retrained_confs"],
        estimator="neurips2023",
    )
    np.testing.assert_allclose(result.epsilons, golden[f"{case}__epsilons"], rtol=0, atol=1e-4)
    assert result.forget_quality == float(golden[f"{case}__forget_score"])


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_neurips2023_numpy_path_reproduces_golden_case(
    golden: dict[str, np.ndarray], case: str
) -> None:
    epsilons = neurips2023_epsilons(
        golden[f"{case}__unlearned_confs"], golden[f"{case}__retrained_confs"], compiled=False
    )
    np.testing.assert_allclose(epsilons, golden[f"{case}__epsilons"], rtol=0, atol=1e-4)


def test_logit_scaled_confidence_reproduces_golden(golden: dict[str, np.ndarray]) -> None:
    logits = golden["conf__logits"]
    before = logits.copy()
    confidence = logit_scaled_confidence(logits, golden["conf__labels"])
    assert confidence.dtype == np.float64
    np.testing.assert_allclose(confidence, golden["conf__confidence"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(logits, before)  # the caller's logits stay untouched


def test_logit_scaled_confidence_stays_finite_when_model_is_certain() -> None:
    logits = np.array([[1000.0, 0.0, 0.0], [0.0, 1000.0, -1000.0]])
    confidence = logit_scaled_confidence(logits, np.array([0, 0]))
    assert np.isfinite(confidence).all()
    assert confidence[0] > 100 and confidence[1] < -100


def test_logit_scaled_confidence_equals_logit_of_softmax_probability() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 7, 5))
    labels = rng.integers(0, 5, size=(4, 7))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    p_true = np.take_along_axis(probs, labels[..., None], -1)[..., 0]
    expected = np.log(p_true) - np.log1p(-p_true)
    np.testing.assert_allclose(logit_scaled_confidence(logits, labels), expected, atol=1e-9)


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (np.zeros((3, 1)), np.zeros(3, int), "K >= 2"),
        (np.zeros((3, 4)), np.zeros(2, int), "shape"),
        (np.zeros((3, 4)), np.full(3, 4), r"\[0, 4\)"),
        (np.full((3, 4), np.nan), np.zeros(3, int), "NaN"),
        (np.zeros((3, 4)), np.zeros(3), "integers"),
    ],
)
def test_logit_scaled_confidence_rejects_bad_input(
    logits: np.ndarray, labels: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        logit_scaled_confidence(logits, labels)


def test_bucket_points_follow_the_competition_buckets_at_n512() -> None:
    epsilons = np.array([0.0, 0.49, 0.5, 1.2, 6.236, 6.49, 6.5, 7.0, 50.0])
    expected = [1.0, 1.0, 0.5, 0.25, 2.0**-12, 2.0**-12, 2.0**-13, 0.0, 0.0]
    np.testing.assert_array_equal(bucket_points(epsilons, 512), expected)
    # N = 64: ceil(ln 63) = 5, so ten buckets and epsilon 5 already pays nothing.
    np.testing.assert_array_equal(bucket_points(np.array([4.9, 5.0]), 64), [2.0**-9, 0.0])


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize(
    ("unlearned_shape", "retrained_shape", "message"),
    [
        ((16, 3), (16, 4), "same shape"),
        ((16,), (16,), "2-D"),
        ((2, 3), (2, 3), "at least"),
        ((16, 0), (16, 0), "at least one forget example"),
    ],
)
def test_estimators_reject_bad_shapes(
    name: str, unlearned_shape: tuple[int, ...], retrained_shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        forget_quality(np.zeros(unlearned_shape), np.ones(retrained_shape), estimator=name)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_reject_nan(name: str) -> None:
    unlearned = np.random.default_rng(0).normal(size=(16, 3))
    unlearned[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        forget_quality(unlearned, np.zeros((16, 3)), estimator=name)


def test_forget_quality_rejects_unknown_estimator() -> None:
    with pytest.raises(ValueError, match="calibrated"):
        forget_quality(np.zeros((16, 2)), np.zeros((16, 2)), estimator="nope")


def _accuracies(n_models: int, level: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(level + 0.01 * rng.normal(size=n_models), 0, 1)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_score_submission_combines_forget_quality_and_utility(name: str) -> None:
    rng = np.random.default_rng(5)
    n_models, n_examples = 32, 6
    unlearned = rng.normal(size=(n_models, n_examples)) + 0.3
    retrained = rng.normal(size=(n_models, n_examples))
    accuracies = {
        "unlearned_retain_acc": _accuracies(n_models, 0.90, rng),
        "retrained_retain_acc": _accuracies(n_models, 0.95, rng),
        "unlearned_test_acc": _accuracies(n_models, 0.80, rng),
        "retrained_test_acc": _accuracies(n_models, 0.85, rng),
    }
    report = score_submission(
        unlearned_confs=unlearned,
        retrained_confs=retrained,
        estimator=name,
        n_bootstrap=20,
        seed=1,
        **accuracies,
    )
    assert isinstance(report, ScoreReport)
    expected_forget = forget_quality(unlearned, retrained, estimator=name, seed=1).forget_quality
    assert report.forget_quality == expected_forget
    utility = (
        accuracies["unlearned_retain_acc"].mean() / accuracies["retrained_retain_acc"].mean()
    ) * (accuracies["unlearned_test_acc"].mean() / accuracies["retrained_test_acc"].mean())
    assert report.final_score == pytest.approx(report.forget_quality * utility)
    assert report.forget_quality_ci is not None and report.final_score_ci is not None
    assert 0.0 <= report.forget_quality_ci[0] <= report.forget_quality_ci[1] <= 1.0
    assert report.final_score_ci[0] <= report.final_score_ci[1]
    assert report.noise_floor == noise_floor(retrained, estimator=name, seed=1)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["estimator"] == name and len(payload["epsilons"]) == n_examples


def test_score_submission_uses_a_precomputed_noise_floor_and_skips_bootstrap() -> None:
    rng = np.random.default_rng(2)
    confs = rng.normal(size=(16, 4))
    ones = np.ones(16)
    report = score_submission(
        unlearned_confs=confs,
        retrained_confs=confs[::-1],
        unlearned_retain_acc=ones,
        retrained_retain_acc=ones,
        unlearned_test_acc=ones,
        retrained_test_acc=ones,
        estimator="neurips2023",
        n_bootstrap=0,
        noise_floor=0.123,
    )
    assert report.noise_floor == 0.123
    assert report.forget_quality_ci is None and report.final_score_ci is None


def _two_originals(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """32 runs from two originals whose runs differ by a shift (run i: original i mod 2)."""
    shift = np.where(np.arange(32) % 2 == 0, 0.0, 1.5)[:, None]
    ones = np.ones(32)
    return {
        "unlearned_confs": rng.normal(size=(32, 60)) + shift,
        "retrained_confs": rng.normal(size=(32, 60)),
        "unlearned_retain_acc": ones,
        "retrained_retain_acc": ones,
        "unlearned_test_acc": ones,
        "retrained_test_acc": ones,
    }


def test_one_original_draws_exactly_the_2023_bootstrap() -> None:
    inputs = _two_originals(np.random.default_rng(4))
    plain = score_submission(**inputs, estimator="neurips2023", n_bootstrap=30, seed=2)
    one = score_submission(
        **inputs, estimator="neurips2023", n_bootstrap=30, seed=2, originals=np.zeros(32, int)
    )
    assert one.to_dict() == plain.to_dict() and plain.bootstrap_originals == 1


def test_several_originals_widen_the_interval_by_the_spread_between_them() -> None:
    """The runs of two originals differ: drawing originals as well as runs lets a replicate
    hold one original's runs only, so the interval holds that spread, which one population
    of runs hides."""
    inputs = _two_originals(np.random.default_rng(4))
    options = {"estimator": "neurips2023", "n_bootstrap": 60, "seed": 2}
    plain = score_submission(**inputs, **options)
    clustered = score_submission(**inputs, **options, originals=np.arange(32) % 2)
    assert clustered.forget_quality == plain.forget_quality  # the score itself is unchanged
    assert clustered.bootstrap_originals == 2 and clustered.to_dict()["bootstrap_originals"] == 2

    def width(interval: tuple[float, float] | None) -> float:
        assert interval is not None
        return interval[1] - interval[0]

    assert width(clustered.forget_quality_ci) > 1.5 * width(plain.forget_quality_ci)
    with pytest.raises(ValueError, match="one integer per unlearned model"):
        score_submission(**inputs, **options, originals=np.arange(31) % 2)


def test_score_submission_rejects_accuracies_of_the_wrong_length() -> None:
    confs = np.zeros((16, 2))
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        score_submission(
            unlearned_confs=confs,
            retrained_confs=confs,
            unlearned_retain_acc=np.ones(15),
            retrained_retain_acc=np.ones(16),
            unlearned_test_acc=np.ones(16),
            retrained_test_acc=np.ones(16),
            estimator="neurips2023",
        )


def test_noise_floor_is_the_mean_over_halves_drawn_from_its_seed() -> None:
    """Three random halves of the reference, drawn in order from the seed's stream, each
    scored with its own estimator seed: the floor is their mean F."""
    from harness.scoring.estimators import get_estimator

    rng = np.random.default_rng(5)
    retrained = rng.normal(size=(32, 40))
    chosen = get_estimator("neurips2023")
    assert chosen.threads_parallel  # the compiled kernel is installed here
    draws = np.random.default_rng(3)
    values = []
    for repeat in range(3):
        order = draws.permutation(32)
        first, second = retrained[order[:16]], retrained[order[16:32]]
        values.append(chosen(first, second, seed=3 + repeat).forget_quality)
    assert noise_floor(retrained, estimator="neurips2023", seed=3) == float(np.mean(values))


def test_noise_floor_rejects_too_few_reference_models() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        noise_floor(np.zeros((12, 3)), estimator="calibrated")


def test_statistically_tied_reads_reports_mappings_and_pairs() -> None:
    assert statistically_tied(
        (0.5, (0.4, 0.6)), {"final_score": 0.55, "final_score_ci": [0.58, 0.7]}
    )
    assert not statistically_tied((0.5, (0.4, 0.6)), (0.8, (0.7, 0.9)))
    with pytest.raises(ValueError, match="final_score_ci"):
        statistically_tied({"final_score": 0.5}, (0.5, (0.4, 0.6)))


def _report(unlearned: np.ndarray, retrained: np.ndarray, seed: int) -> ScoreReport:
    ones = np.ones(unlearned.shape[0])
    return score_submission(
        unlearned_confs=unlearned,
        retrained_confs=retrained,
        unlearned_retain_acc=ones,
        retrained_retain_acc=ones,
        unlearned_test_acc=ones,
        retrained_test_acc=ones,
        estimator="calibrated",
        n_bootstrap=40,
        seed=seed,
    )


def test_intervals_contain_the_score_and_separate_clearly_different_entries() -> None:
    rng = np.random.default_rng(8)
    retrained = rng.normal(size=(64, 30))
    good_a = _report(rng.normal(size=(64, 30)), retrained, seed=1)
    good_b = _report(rng.normal(size=(64, 30)), retrained, seed=2)
    poor = _report(rng.normal(size=(64, 30)) + 3.0, retrained, seed=3)
    for report in (good_a, good_b, poor):
        assert report.final_score_ci is not None
        low, high = report.final_score_ci
        assert low <= report.final_score <= high
    assert statistically_tied(good_a, good_b)
    assert not statistically_tied(good_a, poor)


def test_window_left_edges_are_numpy_linspace_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    right = rng.normal(0, 30, size=50)
    width = float(rng.uniform(0, 3))
    columns = np.arange(400)
    for edge in right:
        expected = np.linspace(edge - width - 2.0, edge - width + 2.0, 400)
        actual = _left_edge(np.full(400, edge), width, columns)
        np.testing.assert_array_equal(actual, expected)


def test_single_thresholds_are_torch_float32_linspace_bit_for_bit() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    for _ in range(60):
        start = float(rng.normal(0, 20))
        stop = start + float(rng.uniform(0.005, 40))
        count = int(np.ceil((stop - start) * 100))
        expected = torch.linspace(
            torch.tensor(start, dtype=torch.float64), torch.tensor(stop, dtype=torch.float64), count
        )
        np.testing.assert_array_equal(
            _torch_float32_linspace(start, stop, count), expected.numpy().astype(np.float64)
        )


# The scorer library and its command; `unlearn.cli` registers every command, torch ones too.
SCORER_MODULES = ("harness.scoring", "unlearn.score")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_scorer_modules_do_not_import_torch() -> None:
    # Static: other tests in the same session import torch, so sys.modules cannot tell.
    pending = list(SCORER_MODULES)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = REPO_ROOT.joinpath(*module.split("."))
        files = sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
        for file in files:
            imported = _imported_modules(file)
            assert not any(name.split(".")[0] == "torch" for name in imported), file
            pending.extend(name for name in imported if name.startswith("harness."))
    assert "harness.scoring.neurips2023" in seen


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_bootstrap_in_worker_processes_gives_the_same_intervals(name: str) -> None:
    rng = np.random.default_rng(7)
    n_models = 16
    inputs = dict(
        unlearned_confs=rng.normal(size=(n_models, 12)) + 0.2,
        retrained_confs=rng.normal(size=(n_models, 12)),
        unlearned_retain_acc=_accuracies(n_models, 0.90, rng),
        retrained_retain_acc=_accuracies(n_models, 0.95, rng),
        unlearned_test_acc=_accuracies(n_models, 0.80, rng),
        retrained_test_acc=_accuracies(n_models, 0.85, rng),
        estimator=name,
        n_bootstrap=24,
        seed=3,
        noise_floor=0.1,
    )
    seen: list[tuple[int, int]] = []
    serial = score_submission(**inputs)
    pooled = score_submission(**inputs, processes=2, on_replicate=lambda *p: seen.append(p))
    assert pooled.forget_quality_ci == serial.forget_quality_ci
    assert pooled.final_score_ci == serial.final_score_ci
    assert seen == [(done, 24) for done in range(1, 25)]
