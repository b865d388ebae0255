"""unlearning-harness: evaluate machine-unlearning submissions the way a competition does.

Data flow: data -> models -> train (original + retrained references) -> protocol/unlearn
(run a submission N times, in process or in the sandbox) -> evaluate (logits, accuracies
from the weights) -> score (estimators) -> report.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
