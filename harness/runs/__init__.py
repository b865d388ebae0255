"""The submission's side: run `unlearning()` once per seed, behind a sandbox.

protocol.py  load `unlearning()`, seed a run, hand it loaders, call it (shared by every
             runner, inside the container too)
execute.py   the N runs of one submission through a Runner, weights checked, the gate
sandbox/     Runner interface; in-process (`local`) and Docker (`docker`) runners
"""

__all__: list[str] = []
