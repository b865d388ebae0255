"""bench/gpu_check.py at a tiny size on CPU: the figures a GPU run prints, and a clean skip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import gpu_check


def test_gpu_check_prints_every_figure_on_cpu_and_skips_the_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = gpu_check.main(["--device", "cpu", "--tiny", "--json", str(tmp_path / "g.json")])
    printed = capsys.readouterr().out
    train = result["train"]
    assert train["replicas"] == gpu_check.TINY.replicas and train["seconds"] > 0
    assert train["models_per_s"] > 0 and train["images_per_s"] > 0
    # A ResNet-18 step is counted, not guessed: forward and backward, millions of FLOPs.
    assert train["flops_per_image"] > 1e6 and train["achieved_tflops"] > 0
    assert train["peak_tflops"] is None and train["fraction_of_peak"] is None
    assert "peak unknown on CPU" in printed
    assert "GPU utilisation: n/a on CPU" in printed
    assert result["sandbox"] == {
        "skipped": "no GPU: this part runs a shard with --gpus, on cuda only"
    }
    assert "sandbox: skipped (no GPU" in printed
    full = result["projection"]
    assert full["retrained"] == full["unlearned"] == 512 and full["gpu_hours"] > 0
    assert "GPU-hours" in printed
    assert json.loads((tmp_path / "g.json").read_text())["train"]["model"] == "resnet18-small"


def test_gpu_check_projection_scales_with_throughput() -> None:
    # Twice the images per second: half the GPU-hours.
    slow, fast = gpu_check.projection(1000.0), gpu_check.projection(2000.0)
    assert fast["gpu_hours"] == pytest.approx(slow["gpu_hours"] / 2)
    # 512 retrainings + 512 runs at 20% of one + 1024 evaluations (a third of a step each).
    retrain = 30 * 50_000 / 1000.0
    expected = 512 * retrain * 1.2 + 1024 * 60_000 / 3000.0
    assert slow["gpu_hours"] == pytest.approx(expected / 3600)


def test_gpu_check_refuses_cuda_where_there_is_none() -> None:
    if gpu_check.torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cuda", "--tiny"])
