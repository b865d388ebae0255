"""The phase's fixed side: the original model and the N retrained reference models.

train.py  training from scratch: one model, or N replicas as one stacked ensemble
cache.py  the original + reference outputs, cached on disk by the phase's content hash
"""

__all__: list[str] = []
