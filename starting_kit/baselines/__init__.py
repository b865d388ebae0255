"""Ready-to-submit reference methods, one self-contained file each.

Every file defines `unlearning(net, retain_loader, forget_loader, val_loader) -> None` and
imports only torch (plus the standard library), so a participant can copy one and submit it.
`BASELINES` lists them in the order the baseline table shows them.
"""

from __future__ import annotations

__all__ = ["BASELINES"]

BASELINES: tuple[str, ...] = (
    "do_nothing",
    "finetune",
    "gradient_ascent",
    "neggrad_plus",
    "random_labels",
    "scrub",
    "l1_sparse",
    "salun",
    "reset_finetune",
    "retrain",
)
