"""What a person reads of one evaluation: the report (one typed model), its files, the plots.

schema.py EvaluationReport, the report's one shape (score, accuracy, efficiency gate and its
          verdict, attacks, secondary metrics and figures, racing, provenance); no torch
build.py  build_report (its one builder), the summary table rows, report.json, failure report
secondary.py the secondary metrics' section of the report
plots.py  PNG plots (matplotlib, Agg)
record.py the evaluation's record: manifest, per-run outputs, reference arrays, signature
verify.py check a record's signature and hashes, recompute its score bit for bit
"""

__all__: list[str] = []
