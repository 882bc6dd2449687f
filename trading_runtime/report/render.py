"""Pick the report for a result and render it."""

from __future__ import annotations

from pathlib import Path

from trading_runtime.report.backtest import render_backtest_report
from trading_runtime.report.experiment import render_experiment_report
from trading_runtime.report.results import BacktestResults, ExperimentResults, Results, report_location


def render_report(results: Results) -> bytes:
    """The report's bytes (UTF-8 HTML): the same results give the same bytes."""
    if isinstance(results, BacktestResults):
        return render_backtest_report(results).encode("utf-8")
    if isinstance(results, ExperimentResults):
        return render_experiment_report(results).encode("utf-8")
    from trading_runtime.report.optuna import render_study_report  # a study's report only

    return render_study_report(results).encode("utf-8")


def write_report(results: Results, output: Path | None = None) -> str:
    """Render ``report.html`` and store it beside the results, or write it to the local file ``output``;
    returns its location (a path or a URI)."""
    return store_report(results, render_report(results), output)


def store_report(results: Results, data: bytes, output: Path | None = None) -> str:
    """Write report bytes rendered from ``results`` where ``write_report`` would; returns the location."""
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        return str(output)
    results.store.put_bytes(results.report_key, data)
    return report_location(results)
