"""The in-process runner follows the protocol: seeded, isolated copies, clear failures."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from harness.data.batches import shuffled_loader
from harness.errors import BadOutput, SubmissionCrashed
from harness.models import ModelSpec
from harness.reference.train import init_state
from harness.runs.execute import efficiency_gate, validated_states
from harness.runs.protocol import ReturnedModelIgnored
from harness.runs.sandbox.base import Job
from harness.runs.sandbox.local import LocalRunner

SPEC = ModelSpec("mlp", num_classes=3, input_shape=(5,), hidden=(8,))

NOISY_FINETUNE = """
import random
import numpy as np
import torch

def unlearning(net, retain_loader, forget_loader, val_loader):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for inputs, targets in retain_loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        optimizer.step()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p) + random.random() + float(np.random.rand()))
"""

CRASHES = """
def helper(net):
    raise ValueError("boom in helper")

def unlearning(net, retain_loader, forget_loader, val_loader):
    helper(net)
"""

NAN_WEIGHTS = """
import torch
def unlearning(net, retain_loader, forget_loader, val_loader):
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
"""

NEW_LAYER = """
import torch
def unlearning(net, retain_loader, forget_loader, val_loader):
    net.append(torch.nn.Linear(3, 3))
"""

RETURNS_A_COPY = """
import copy
import torch
def unlearning(net, retain_loader, forget_loader, val_loader):
    model = copy.deepcopy(net)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model
"""


def _job(tmp_path: Path, source: str, seeds: list[int]) -> Job:
    path = tmp_path / "submission.py"
    path.write_text(source)
    generator = torch.Generator().manual_seed(0)

    def part(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 5, generator=generator), torch.randint(
            0, 3, (n,), generator=generator
        )

    return Job(
        submission=path,
        spec=SPEC,
        original=init_state(SPEC, 0),
        retain=part(40),
        forget=part(10),
        val=part(10),
        seeds=seeds,
        batch_size=8,
    )


def test_shuffled_loader_yields_the_default_loaders_batches() -> None:
    x, y = torch.randn(50, 2), torch.arange(50)
    plain = DataLoader(
        TensorDataset(x, y),
        batch_size=8,
        shuffle=True,
        generator=torch.Generator().manual_seed(3),
    )
    fast = shuffled_loader((x, y), batch_size=8, generator=torch.Generator().manual_seed(3))
    for _ in range(2):
        for (a, b), (c, d) in zip(plain, fast, strict=True):
            assert torch.equal(a, c) and torch.equal(b, d)


def test_local_runner_same_seed_same_weights_other_seed_other_weights(tmp_path: Path) -> None:
    job = _job(tmp_path, NOISY_FINETUNE, [0, 1, 0])
    original = {k: v.clone() for k, v in job.original.items()}
    outcomes = LocalRunner().run(job)
    states = validated_states(outcomes, job.original)
    assert all(torch.equal(states[0][k], states[2][k]) for k in states[0])
    assert not torch.equal(states[0]["1.weight"], states[1]["1.weight"])
    assert all(torch.equal(job.original[k], original[k]) for k in original), "original changed"


def test_local_runner_restores_the_thread_count(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    LocalRunner().run(_job(tmp_path, NOISY_FINETUNE, [0]))
    assert torch.get_num_threads() == before


def test_crash_reports_the_submissions_own_frames(tmp_path: Path) -> None:
    outcomes = LocalRunner().run(_job(tmp_path, CRASHES, [7]))
    assert isinstance(outcomes[0].error, SubmissionCrashed)
    assert "seed 7" in outcomes[0].error.message
    assert "helper" in outcomes[0].log_excerpt and "boom in helper" in outcomes[0].log_excerpt
    assert "harness/runs/protocol.py" not in outcomes[0].log_excerpt
    with pytest.raises(SubmissionCrashed):
        validated_states(outcomes, init_state(SPEC, 0))


def test_a_failed_runs_error_carries_its_output_then_its_traceback_by_file_name(
    tmp_path: Path,
) -> None:
    """What the worker shows a team after a failed sanity run: the error raised for the run
    holds what it printed before the traceback, whose frames name the uploaded file."""
    source = CRASHES.replace(
        "    helper(net)", "    print('about to call helper')\n    helper(net)"
    )
    outcomes = LocalRunner(capture_output=True).run(_job(tmp_path, source, [3]))
    with pytest.raises(SubmissionCrashed) as raised:
        validated_states(outcomes, init_state(SPEC, 0))
    text = raised.value.log_excerpt
    assert text.index("about to call helper") < text.index("Traceback")
    assert 'File "submission.py", line 3, in helper' in text
    assert str(tmp_path) not in text
    # Control: without captured output, the error keeps its traceback alone.
    quiet = LocalRunner().run(_job(tmp_path, source, [3]))
    with pytest.raises(SubmissionCrashed) as alone:
        validated_states(quiet, init_state(SPEC, 0))
    assert "about to call helper" not in alone.value.log_excerpt
    assert 'File "submission.py", line 7, in unlearning' in alone.value.log_excerpt


@pytest.mark.parametrize(
    ("source", "match"), [(NAN_WEIGHTS, "NaN"), (NEW_LAYER, "architecture changed")]
)
def test_unusable_weights_fail_with_a_clear_message(
    tmp_path: Path, source: str, match: str
) -> None:
    job = _job(tmp_path, source, [0])
    outcomes = LocalRunner().run(job)
    with pytest.raises(BadOutput, match=match):
        validated_states(outcomes, job.original)


def test_efficiency_gate_compares_the_median_run_with_one_retraining(tmp_path: Path) -> None:
    outcomes = LocalRunner().run(_job(tmp_path, NOISY_FINETUNE, [0, 1, 2]))
    for outcome, seconds in zip(outcomes, [1.0, 2.0, 9.0], strict=True):
        outcome.seconds = seconds
    passed = efficiency_gate(outcomes, retrain_seconds=10.0, max_run_fraction=0.2)
    assert passed.passed and passed.fraction == pytest.approx(0.2)
    failed = efficiency_gate(outcomes, retrain_seconds=9.0, max_run_fraction=0.2)
    assert not failed.passed and failed.fraction == pytest.approx(2 / 9)


def test_a_returned_model_of_the_same_architecture_is_scored(tmp_path: Path) -> None:
    job = _job(tmp_path, RETURNS_A_COPY, [0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReturnedModelIgnored)
        [state] = validated_states(LocalRunner().run(job), job.original)
    assert all(torch.count_nonzero(state[k]) == 0 for k in state)


def test_a_returned_model_of_another_architecture_is_ignored_with_a_warning(
    tmp_path: Path,
) -> None:
    source = "import torch\ndef unlearning(net, r, f, v):\n    return torch.nn.Linear(2, 2)\n"
    job = _job(tmp_path, source, [0])
    with pytest.warns(ReturnedModelIgnored, match="net`'s weights are kept"):
        [state] = validated_states(LocalRunner().run(job), job.original)
    assert all(torch.equal(state[k], job.original[k]) for k in state)


def test_returning_net_itself_is_not_warned_about(tmp_path: Path) -> None:
    source = NOISY_FINETUNE + "    return net\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReturnedModelIgnored)
        [outcome] = LocalRunner().run(_job(tmp_path, source, [0]))
    assert outcome.ok


def test_local_runner_keeps_each_runs_output_when_asked(tmp_path: Path) -> None:
    chatty = NOISY_FINETUNE + '\nprint("hello from the run")\n'
    source = chatty.replace(
        "def unlearning(net, retain_loader, forget_loader, val_loader):\n",
        "def unlearning(net, retain_loader, forget_loader, val_loader):\n"
        "    import sys\n    print('epoch 1 loss 0.5')\n    print('a warning', file=sys.stderr)\n",
    )
    outcomes = LocalRunner(capture_output=True).run(_job(tmp_path, source, [0, 1]))
    # Each run imports the submission afresh: what the import prints is that run's output.
    expected = "hello from the run\nepoch 1 loss 0.5\na warning\n"
    assert [o.log_excerpt for o in outcomes] == [expected] * 2
    quiet = LocalRunner().run(_job(tmp_path, source, [0]))
    assert quiet[0].log_excerpt == ""


def test_captured_output_keeps_its_end_and_counts_what_was_cut() -> None:
    from harness.runs.sandbox.local import _Tail

    sink = _Tail(10)
    sink.write("a" * 25)
    sink.write("bbbbb")
    assert sink.text() == "[… 20 earlier characters cut]\naaaaabbbbb"


def test_local_runner_gives_the_same_weights_when_seeds_run_in_forked_processes(
    tmp_path: Path,
) -> None:
    job = _job(tmp_path, NOISY_FINETUNE, [0, 1, 2, 0])
    done: list[int] = []
    serial = validated_states(LocalRunner().run(job), job.original)
    forked_outcomes = LocalRunner(processes=2).run(job, on_seed_done=done.append)
    forked = validated_states(forked_outcomes, job.original)
    assert [o.seed for o in forked_outcomes] == [0, 1, 2, 0] and done == [0, 1, 2, 0]
    for one, other in zip(serial, forked, strict=True):
        assert all(torch.equal(one[k], other[k]) for k in one)


def test_local_runner_reports_a_crash_from_a_forked_process(tmp_path: Path) -> None:
    outcomes = LocalRunner(processes=2).run(_job(tmp_path, CRASHES, [7, 8]))
    assert all(isinstance(o.error, SubmissionCrashed) for o in outcomes)
    assert "seed 8" in outcomes[1].error.message and "boom in helper" in outcomes[1].log_excerpt


def test_local_runner_refuses_zero_processes() -> None:
    with pytest.raises(ValueError, match="processes must be >= 1; got 0"):
        LocalRunner(processes=0)


CACHES_IN_A_GLOBAL = (
    NOISY_FINETUNE
    + "\n_CACHE = []\n"
    + "_FINETUNE = unlearning\n"
    + "def unlearning(net, retain_loader, forget_loader, val_loader):\n"
    + "    print('HIT' if _CACHE else 'MISS')\n"
    + "    _CACHE.append(1)\n"
    + "    _FINETUNE(net, retain_loader, forget_loader, val_loader)\n"
)


@pytest.mark.parametrize("processes", [1, 2])
def test_local_runner_runs_each_seed_in_a_fresh_process(tmp_path: Path, processes: int) -> None:
    """As in the sandbox: a cache kept in a module global is never seen by a later seed."""
    job = _job(tmp_path, CACHES_IN_A_GLOBAL, [0, 1, 2])
    runner = LocalRunner(processes=processes, capture_output=True)
    assert [o.log_excerpt for o in runner.run(job)] == ["MISS\n"] * 3


def test_control_seeds_run_in_this_process_see_the_cache(tmp_path: Path) -> None:
    job = _job(tmp_path, CACHES_IN_A_GLOBAL, [0, 1, 2])
    outcomes = LocalRunner(capture_output=True)._in_process(job, None)
    assert [o.log_excerpt for o in outcomes] == ["MISS\n", "HIT\n", "HIT\n"]


def test_local_runner_stops_a_run_at_its_time_limit(tmp_path: Path) -> None:
    source = "import time\ndef unlearning(net, r, f, v):\n    time.sleep(60)\n"
    job = replace(_job(tmp_path, source, [0]), time_limit_s=0.5)
    [outcome] = LocalRunner().run(job)
    assert outcome.error is not None and outcome.error.category == "timeout"
    assert 0.5 <= outcome.seconds < 5


PRINTS_ITS_DEVICE = (
    "def unlearning(net, retain_loader, forget_loader, val_loader, device=None, *, DEVICE=None):\n"
    "    print(device, DEVICE)\n"
)


def test_kaggle2023_fills_device_parameters_with_the_runs_device(tmp_path: Path) -> None:
    job = replace(_job(tmp_path, PRINTS_ITS_DEVICE, [0]), interface="kaggle2023")
    [outcome] = LocalRunner(capture_output=True).run(job)
    assert outcome.ok and outcome.log_excerpt == "cpu cpu\n", outcome.log_excerpt


NEEDS_ITS_DEVICE = "def unlearning(net, retain, forget, val, device):\n    print(device)\n"


def test_kaggle2023_fills_a_required_device_parameter(tmp_path: Path) -> None:
    job = replace(_job(tmp_path, NEEDS_ITS_DEVICE, [0]), interface="kaggle2023")
    [outcome] = LocalRunner(capture_output=True).run(job)
    assert outcome.ok and outcome.log_excerpt == "cpu\n", outcome.log_excerpt
    # Control: the tuple interface fills nothing, so the same code is refused before it runs.
    [refused] = LocalRunner(capture_output=True).run(_job(tmp_path, NEEDS_ITS_DEVICE, [0]))
    assert refused.error is not None and "device=None" in refused.error.message


def test_control_the_tuple_interface_leaves_device_parameters_alone(tmp_path: Path) -> None:
    [outcome] = LocalRunner(capture_output=True).run(_job(tmp_path, PRINTS_ITS_DEVICE, [0]))
    assert outcome.ok and outcome.log_excerpt == "None None\n", outcome.log_excerpt
