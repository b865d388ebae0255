"""The submission's side: run `unlearning()` once per seed, behind a sandbox.

protocol.py    load `unlearning()`, seed a run, hand it loaders, call it (shared by every
               runner, inside the container too)
contract.py    the static check of a submission's source (upload and dry-run)
execute.py     the N runs of one submission through a Runner, weights checked, the gate
interfaces.py  the batch interfaces' former home, re-exporting `harness/data/batches.py`
sandbox/       Runner interface; in-process (`local`) and Docker (`docker`) runners
"""

__all__: list[str] = []
