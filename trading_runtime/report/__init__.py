"""Reports: one self-contained report.html per result (a backtest, an experiment, a comparison).

``load_results(uri)`` reads finished results from any store; ``render_report(results)`` turns them
into HTML with inline SVG charts (``svg.py``), byte-identical for the same results.
"""

from trading_runtime.report.render import render_report, store_report, write_report
from trading_runtime.report.results import (
    REPORT_NAME,
    BacktestResults,
    EquityCurve,
    ExperimentResults,
    Results,
    experiment_location,
    finalized_experiment,
    load_backtest,
    load_experiment,
    load_results,
    load_study,
    report_location,
)

__all__ = [
    "REPORT_NAME",
    "BacktestResults",
    "EquityCurve",
    "ExperimentResults",
    "Results",
    "experiment_location",
    "finalized_experiment",
    "load_backtest",
    "load_experiment",
    "load_results",
    "load_study",
    "render_report",
    "report_location",
    "store_report",
    "write_report",
]
