"""The metric lab: meta-evaluation of the scorer's estimators and secondary metrics per phase.

populations.py   originals (knowledge present), held-out retrained replicas (absent), probes
faithfulness.py  each metric's badness, AUCs, the table (pure numpy)
run.py           metric_lab(phase, ...): one run, end to end
plot.py          the table as a figure

`unlearn metric-lab` (unlearn/metric_lab.py) drives it; docs/scoring.md shows its figures.
"""

from harness.lab.faithfulness import LAB_METRICS, auc, lab_table
from harness.lab.run import metric_lab

__all__ = ["LAB_METRICS", "auc", "lab_table", "metric_lab"]
