"""The statistic the scorer compares: logit-scaled confidence of the true label.

Input: logits of shape [..., K] and integer labels of shape [...]. Output: float64 array of
shape [...] holding ``log p_y - log(sum_{k != y} p_k)``, the statistic of LiRA (Carlini et
al. 2022) that the NeurIPS 2023 organisers used. It sits between the logits pass
(``harness/evaluate.py``) and the estimators: for each forget example and each model one
value, stacked into the [n_models, n_examples] matrices the estimators take.

The softmax runs in float64 after subtracting the row maximum, and ``1e-45`` is added inside
both logarithms exactly as in the organisers' code, so a fully confident model gives a large
finite value rather than ``inf``. Unlike that code this function never modifies its input,
and it converts float32 logits to float64 *before* the exponential (theirs exponentiated in the
input dtype), which can only make the value more accurate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["logit_scaled_confidence"]

_LOG_FLOOR = 1e-45  # the organisers' additive guard inside both logarithms


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Logit-scaled confidence of the true label, float64, shape ``labels.shape``.

    Args:
        logits: [..., K] real logits (any float dtype), K >= 2.
        labels: [...] integer class indices in [0, K).

    Raises:
        ValueError: on mismatched shapes, non-finite logits or out-of-range labels.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim < 1 or logits.shape[-1] < 2:
        raise ValueError(f"logits must have shape [..., K] with K >= 2; got {logits.shape}")
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"labels must have shape logits.shape[:-1] = {logits.shape[:-1]}; got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}")
    n_classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in [0, {n_classes}); got [{labels.min()}, {labels.max()}]"
        )
    shifted = logits.astype(np.float64)  # a copy: the caller's array stays untouched
    if not np.isfinite(shifted).all():
        raise ValueError("logits contain NaN or infinity")
    shifted -= shifted.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=-1, keepdims=True)
    index = labels[..., None].astype(np.intp)
    prob_true = np.take_along_axis(probs, index, axis=-1)[..., 0]
    # Sum the other classes directly rather than 1 - p_y, which loses all digits near p_y = 1.
    np.put_along_axis(probs, index, 0.0, axis=-1)
    prob_rest = probs.sum(axis=-1)
    confidence: np.ndarray = np.log(prob_true + _LOG_FLOOR) - np.log(prob_rest + _LOG_FLOOR)
    return confidence
