"""The A/B test of two strategies on the same data: each side from a backtest config (run here) or a
backtest's results folder, compared, written as compare.json and compare.html (``report.compare``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trading_runtime.config import BacktestConfig, config_sha256, load_model
from trading_runtime.errors import InputError
from trading_runtime.execution.backtest import run_backtest_config
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.report import BacktestResults, EquityCurve, load_results
from trading_runtime.report.compare import Comparison, Side, compare_sides, comparison_document, render_comparison

log = logging.getLogger(__name__)


def side(label: str, source: str, cwd: Path, prefixes: tuple[str, ...], provenance: Mapping[str, Any]) -> Side:
    """One side: a config file is run (``provenance`` is this process's), a results folder is read."""
    path = Path(source)
    if path.is_file():
        config = load_model(BacktestConfig, path, source)
        log.info("compare: running %s = %s", label, config.id)
        run = run_backtest_config(config, source, cwd, prefixes)
        sim = run.result.simulation
        curve = EquityCurve(run.data.bars.ts[sim.start:].astype("int64"), sim.equity.astype("float64"),
                            config.execution.initial_cash)
        return Side(label, config.id, source, curve, run.metrics, config.data.path, run.data.sha256,
                    run.data_ref().timeframe, config.strategy.class_path, run.result_params(), config_sha256(config),
                    dict(provenance), config.data.bars_per_year)
    results = load_results(source, cwd)
    if not isinstance(results, BacktestResults):
        raise InputError(f"{source}: an experiment's results; compare takes backtest configs or backtest results "
                         f"folders (with equity.parquet)")
    man = results.manifest
    return Side(label, results.label, source, results.curve, results.stats, man.data.path, man.data.sha256,
                man.data.timeframe, man.strategy.class_path, dict(man.strategy.params), man.config_sha256,
                man.provenance, man.data.bars_per_year)


def compare(a: str, b: str, output_dir: Path, cwd: Path, prefixes: tuple[str, ...],
            provenance: Mapping[str, Any]) -> Comparison:
    """Compare A and B; write compare.json and compare.html into ``output_dir`` (only when both are valid)."""
    for source in (a, b):
        if not Path(source).exists() and "://" not in source:
            raise InputError(f"{source}: not found (expected a backtest config file or a results folder)")
    comparison = compare_sides(side("A", a, cwd, prefixes, provenance), side("B", b, cwd, prefixes, provenance))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "compare.json").write_bytes(canonical_bytes(comparison_document(comparison)))
    (output_dir / "compare.html").write_bytes(render_comparison(comparison).encode("utf-8"))
    return comparison
