"""What a person reads of one evaluation: the report dict and files, the plots.

build.py  report.json, the summary table rows, the failure report
plots.py  PNG plots (matplotlib, Agg)
record.py the evaluation's record: manifest, per-run outputs, reference arrays, signature
verify.py check a record's signature and hashes, recompute its score bit for bit
"""

__all__: list[str] = []
