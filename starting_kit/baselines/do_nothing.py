"""Do nothing: return the original model unchanged. The floor every method must beat.

Source: the identity baseline of the NeurIPS 2023 Machine Unlearning Challenge analyses
(Triantafillou et al., "Are we making progress in unlearning?", arXiv 2406.09073).

Recipe: none. `net` keeps the original weights, so every run produces the same model.

Why it scores 0: the N runs are identical, so on every forget example the unlearned side is
a single spike. The competition's scorer treats a spike as a perfect attack (epsilon = 50,
0 points). The calibrated estimator has no spike rule: it gives a spike the largest epsilon
it can certify, which earns few points at 64 runs or more but many at small N. Utility is
the original model's, usually above the retrained models', which cannot lift F = 0.

Measured on the embedded default: calibrated F 0.000, score 0.000;
neurips2023 F 0.000, score 0.000; efficiency 0.00 (64 runs; starting_kit/BASELINES.md).
"""

import torch
from torch.utils.data import DataLoader


def unlearning(
    net: torch.nn.Module,
    retain_loader: DataLoader,
    forget_loader: DataLoader,
    val_loader: DataLoader,
) -> None:
    """Leave `net` as it is."""
    return None
