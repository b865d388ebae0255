"""Metrics from weights, computed on the trusted side: logits, confidences, accuracies.

    evaluate_states(spec, states, splits) -> Evaluation

Input: validated state dicts (never anything a submission reported) and the phase's splits.
Output per model: forget-set logits in the fixed (sorted index) order, their logit-scaled
confidences of the true label (the statistic the scorer compares), and accuracy on the
retain, forget and test sets. Models run in eval mode under `torch.no_grad`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from harness.data import Splits
from harness.models import ModelSpec, build_model
from harness.score import logit_scaled_confidence

__all__ = ["Evaluation", "evaluate_states", "predict_logits"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Per-model results; N models, S forget examples, K classes."""

    forget_logits: np.ndarray  # float32 [N, S, K]
    forget_confs: np.ndarray  # float64 [N, S]
    retain_acc: np.ndarray  # float64 [N]
    forget_acc: np.ndarray  # float64 [N]
    test_acc: np.ndarray  # float64 [N]

    @property
    def n_models(self) -> int:
        return int(self.forget_confs.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "forget_logits": self.forget_logits,
            "forget_confs": self.forget_confs,
            "retain_acc": self.retain_acc,
            "forget_acc": self.forget_acc,
            "test_acc": self.test_acc,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Evaluation:
        return cls(**{name: np.asarray(arrays[name]) for name in cls.__dataclass_fields__})


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module, x: torch.Tensor, *, device: str, batch_size: int = 2048
) -> torch.Tensor:
    """Logits float32 [n, K] on CPU for inputs `x` [n, ...]."""
    model.eval()
    chunks = [
        model(x[start : start + batch_size].to(device)).float().cpu()
        for start in range(0, len(x), batch_size)
    ]
    return torch.cat(chunks)


def evaluate_states(
    spec: ModelSpec,
    states: Sequence[dict[str, torch.Tensor]],
    splits: Splits,
    *,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Evaluate every state on the forget, retain and test sets of `splits`."""
    parts = {part: splits.tensors(part) for part in ("forget", "retain", "test")}
    model = build_model(spec).to(device)
    logits, accuracy = [], {part: [] for part in parts}  # type: ignore[var-annotated]
    for done, state in enumerate(states, start=1):
        model.load_state_dict(state)
        for part, (x, y) in parts.items():
            out = predict_logits(model, x, device=device)
            accuracy[part].append(float((out.argmax(1) == y).double().mean()))
            if part == "forget":
                logits.append(out.numpy())
        if progress is not None:
            progress(done, len(states))
    forget_logits = np.stack(logits).astype(np.float32)
    labels = np.broadcast_to(parts["forget"][1].numpy(), forget_logits.shape[:2])
    return Evaluation(
        forget_logits=forget_logits,
        forget_confs=np.asarray(logit_scaled_confidence(forget_logits, labels), dtype=np.float64),
        retain_acc=np.asarray(accuracy["retain"]),
        forget_acc=np.asarray(accuracy["forget"]),
        test_acc=np.asarray(accuracy["test"]),
    )
