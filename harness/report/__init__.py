"""What a person reads of one evaluation: the report dict and files, the plots.

build.py  report.json, the summary table rows, the failure report
plots.py  PNG plots (matplotlib, Agg)
"""

__all__: list[str] = []
