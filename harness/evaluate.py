"""Metrics from weights, computed on the trusted side: logits, confidences, accuracies.

    evaluate_states(spec, states, splits) -> Evaluation

Input: validated state dicts (never anything a submission reported) and the phase's splits.
Weights come from a submission, so whatever goes wrong computing with them is its fault:
non-finite logits (finite weights large enough to overflow) or an error raised by the model
become `BadOutput` naming the seed.
Output per model: forget-set logits in the fixed (sorted index) order, their logit-scaled
confidences of the true label (the statistic the scorer compares), accuracy on the retain,
forget and test sets, the cross-entropy losses of T test examples for the population
membership-inference attack reported beside the score (`harness.scoring.mia`), and the
logit-scaled confidences (margins) of R = min(retain size, 256) retain examples for the
secondary metrics (`harness.scoring.secondary`: KLoM on the retain set, retain-set
membership drift). Models run in eval mode under `torch.no_grad`.

T = min(test size, S), the examples `kept_test_rows` picks at a fixed stride through the
test set (sorted index order): the attack balances its two classes to min(S, T) examples
anyway, so more would add only bytes to every reference cache and shard artifact, and a
stride rather than the first T keeps a data set stored in class order from handing the
attack a few classes only. The forget side's losses follow from the confidences
(`harness.scoring.mia.losses_from_confidences`), so nothing else is kept for it. The retain
sample (`kept_retain_rows`) is fixed the same way, a stride through the retain set, so that
the unlearned, retrained and original models are compared on the same examples; 256 keeps
KLoM's mean over examples to about +-0.01 while adding 1 KB per model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.data import Splits
from harness.errors import BadOutput
from harness.models import ModelSpec, build_model
from harness.scoring import ScoreReport, logit_scaled_confidence, score_submission
from harness.scoring.mia import losses_from_confidences

__all__ = [
    "score_evaluations",
    "RETAIN_SAMPLE",
    "Evaluation",
    "evaluate_states",
    "kept_retain_rows",
    "kept_test_rows",
    "predict_logits",
]

RETAIN_SAMPLE = 256  # retain examples whose margins an evaluation keeps
_OPTIONAL_ARRAYS = ("test_losses", "retain_confs")  # absent from arrays stored by older versions


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Per-model results; N models, S forget examples, K classes."""

    forget_logits: np.ndarray  # float32 [N, S, K]
    forget_confs: np.ndarray  # float64 [N, S]
    retain_acc: np.ndarray  # float64 [N]
    forget_acc: np.ndarray  # float64 [N]
    test_acc: np.ndarray  # float64 [N]
    # float32 [N, T]: cross-entropy on the `kept_test_rows` test examples. None in arrays
    # stored before it was kept (reference caches, shard artifacts): the population attack
    # is then reported as unavailable.
    test_losses: np.ndarray | None = None
    # float32 [N, R]: logit-scaled confidences (margins) on the `kept_retain_rows` retain
    # examples. None in arrays stored before it was kept: the secondary metrics that need
    # it (KLoM on the retain set, retain-set drift) are then reported as unavailable.
    retain_confs: np.ndarray | None = None

    @property
    def n_models(self) -> int:
        return int(self.forget_confs.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The named arrays (for an `.npz`); the optional ones only when present."""
        arrays = {
            "forget_logits": self.forget_logits,
            "forget_confs": self.forget_confs,
            "retain_acc": self.retain_acc,
            "forget_acc": self.forget_acc,
            "test_acc": self.test_acc,
        }
        for name in _OPTIONAL_ARRAYS:
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Evaluation:
        """Inverse of `to_arrays`; optional arrays missing (older ones) load as None."""
        return cls(
            **{
                name: np.asarray(arrays[name])
                for name in cls.__dataclass_fields__
                if name in arrays or name not in _OPTIONAL_ARRAYS
            }
        )


def kept_test_rows(n_test: int, n_forget: int) -> np.ndarray:
    """Positions in the test set whose losses an evaluation keeps: min(n_test, n_forget)
    of them at a fixed stride, increasing (see the module docstring)."""
    n_kept = min(n_test, n_forget)
    rows: np.ndarray = np.arange(n_kept, dtype=np.int64) * n_test // max(n_kept, 1)
    return rows


def kept_retain_rows(n_retain: int) -> np.ndarray:
    """Positions in the retain set whose margins an evaluation keeps: min(n_retain,
    RETAIN_SAMPLE) of them at a fixed stride, increasing."""
    n_kept = min(n_retain, RETAIN_SAMPLE)
    rows: np.ndarray = np.arange(n_kept, dtype=np.int64) * n_retain // max(n_kept, 1)
    return rows


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


def _outputs(
    model: torch.nn.Module,
    state: dict[str, torch.Tensor],
    parts: dict[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    device: str,
    seed: int,
) -> list[tuple[str, torch.Tensor]]:
    """Logits of one submission's weights on each part; BadOutput for anything wrong."""
    results = []
    try:
        model.load_state_dict(state)
        for part, (x, _) in parts.items():
            results.append((part, predict_logits(model, x, device=device)))
    except (MemoryError, torch.cuda.OutOfMemoryError):
        raise  # the trusted side's resources: ours (the weights' size was checked already)
    except Exception as exc:
        raise BadOutput(f"seed {seed}: evaluating the weights failed ({exc})") from None
    for part, out in results:
        if not bool(torch.isfinite(out).all()):
            raise BadOutput(
                f"seed {seed}: the model's logits on the {part} set are not finite (NaN or "
                "infinite: weights so large that the outputs overflow); keep weights in range"
            )
    return results


def evaluate_states(
    spec: ModelSpec,
    states: Sequence[dict[str, torch.Tensor]],
    splits: Splits,
    *,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    seeds: Sequence[int] | None = None,
) -> Evaluation:
    """Evaluate every state on the forget, retain and test sets of `splits`.

    `seeds` name the states in error messages (default: their positions).
    """
    parts = {part: splits.tensors(part) for part in ("forget", "retain", "test")}
    model = build_model(spec).to(device)
    logits, accuracy = [], {part: [] for part in parts}  # type: ignore[var-annotated]
    loss_rows = kept_test_rows(len(parts["test"][1]), len(parts["forget"][1]))
    test_labels = parts["test"][1].numpy()[loss_rows]
    retain_rows = kept_retain_rows(len(parts["retain"][1]))
    retain_labels = parts["retain"][1].numpy()[retain_rows]
    test_losses, retain_confs = [], []
    names = list(seeds) if seeds is not None else list(range(len(states)))
    for done, state in enumerate(states, start=1):
        for part, out in _outputs(model, state, parts, device=device, seed=names[done - 1]):
            accuracy[part].append(float((out.argmax(1) == parts[part][1]).double().mean()))
            if part == "forget":
                logits.append(out.numpy())
            elif part == "retain":
                retain_confs.append(
                    logit_scaled_confidence(out.numpy()[retain_rows], retain_labels)
                )
            elif part == "test":
                # Through the confidence, as the forget side's losses are (one formula).
                confs = logit_scaled_confidence(out.numpy()[loss_rows], test_labels)
                test_losses.append(losses_from_confidences(confs))
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
        test_losses=np.stack(test_losses).astype(np.float32),
        retain_confs=np.stack(retain_confs).astype(np.float32),
    )


def score_evaluations(unlearned: Evaluation, reference: Evaluation, **options: Any) -> ScoreReport:
    """`score_submission` on two evaluations: the unlearned runs against the retrained
    references (forget confidences, retain and test accuracies); `options` are its own
    (estimator, seed, n_bootstrap, confidence, noise_floor, processes, on_replicate)."""
    return score_submission(
        unlearned_confs=unlearned.forget_confs,
        retrained_confs=reference.forget_confs,
        unlearned_retain_acc=unlearned.retain_acc,
        retrained_retain_acc=reference.retain_acc,
        unlearned_test_acc=unlearned.test_acc,
        retrained_test_acc=reference.test_acc,
        **options,
    )
