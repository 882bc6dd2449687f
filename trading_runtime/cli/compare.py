"""Compare two strategies on the same data (the A/B test): two backtest configs or two backtest results.

Prints a table (metrics side by side, paired t-test of per-bar returns, probabilistic Sharpe of the
difference) on stdout and writes compare.html and compare.json; exit 2 when A and B use different
data. The math is documented in ``trading_runtime/report/compare.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument
from trading_runtime.config import BacktestConfig, config_sha256, load_model
from trading_runtime.errors import InputError
from trading_runtime.execution.backtest import run_backtest_config
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.report import BacktestResults, EquityCurve, load_results
from trading_runtime.report.compare import Side, compare_sides, comparison_document, comparison_table, render_comparison

log = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = ".runtime/compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="A: a backtest config (JSON file) or a backtest's results folder")
    parser.add_argument("b", help="B: a backtest config (JSON file) or a backtest's results folder")
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR),
                        help=f"where compare.html and compare.json go (default {DEFAULT_OUTPUT_DIR})")
    add_strategy_prefix_argument(parser)


def _side(label: str, source: str, args: argparse.Namespace) -> Side:
    path = Path(source)
    if path.is_file():
        config = load_model(BacktestConfig, path, source)
        log.info("compare: running %s = %s", label, config.id)
        run = run_backtest_config(config, source, Path.cwd(), allowed_prefixes(args))
        sim = run.result.simulation
        curve = EquityCurve(run.data.bars.ts[sim.start:].astype("int64"), sim.equity.astype("float64"),
                            config.execution.initial_cash)
        return Side(label, config.id, source, curve, run.metrics, config.data.path, run.data.sha256,
                    run.data_ref().timeframe, config.strategy.class_path, run.result_params(), config_sha256(config),
                    provenance())
    results = load_results(source, Path.cwd())
    if not isinstance(results, BacktestResults):
        raise InputError(f"{source}: an experiment's results; compare takes backtest configs or backtest results "
                         f"folders (with equity.parquet)")
    man = results.manifest
    return Side(label, results.label, source, results.curve, results.stats, man.data.path, man.data.sha256,
                man.data.timeframe, man.strategy.class_path, dict(man.strategy.params), man.config_sha256,
                man.provenance)


def run(args: argparse.Namespace) -> int:
    for source in (args.a, args.b):
        if not Path(source).exists() and "://" not in source:
            raise InputError(f"{source}: not found (expected a backtest config file or a results folder)")
    a = _side("A", args.a, args)
    b = _side("B", args.b, args)
    comparison = compare_sides(a, b)
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_bytes(canonical_bytes(comparison_document(comparison)))
    (out / "compare.html").write_bytes(render_comparison(comparison).encode("utf-8"))
    sys.stdout.write(comparison_table(comparison))
    sys.stdout.write(f"report: {out / 'compare.html'}\n")
    return 0
