"""The phase's fixed side: the original model and the N retrained reference models.

cache.py     the original + reference outputs, cached on disk by the phase's content hash
train.py     training from scratch: one model, or N replicas as one batched ensemble
ensemble.py  replicas of any architecture as one vmapped ensemble (used by train.py)
recipe.py    what every trainer shares: initial weights, batch order, loss weights,
             optimizer and schedule

Imports point down this list (import-linter checks it): no module imports one above it.
"""

__all__: list[str] = []
