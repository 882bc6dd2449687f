"""Pick the report for a result and render it."""

from __future__ import annotations

from trading_runtime.report.backtest import render_backtest_report
from trading_runtime.report.experiment import render_experiment_report
from trading_runtime.report.optuna import render_study_report
from trading_runtime.report.results import BacktestResults, ExperimentResults, Results, report_location


def render_report(results: Results) -> bytes:
    """The report's bytes (UTF-8 HTML): the same results give the same bytes."""
    if isinstance(results, BacktestResults):
        return render_backtest_report(results).encode("utf-8")
    if isinstance(results, ExperimentResults):
        return render_experiment_report(results).encode("utf-8")
    return render_study_report(results).encode("utf-8")


def write_report(results: Results) -> str:
    """Render and store ``report.html`` beside the results; returns its location (a path or a URI)."""
    results.store.put_bytes(results.report_key, render_report(results))
    return report_location(results)
