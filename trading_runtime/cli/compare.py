"""Compare two strategies on the same data (the A/B test): two backtest configs or two backtest results.

Prints a table (metrics side by side, paired t-test of per-bar returns, probabilistic Sharpe of the
difference) on stdout and writes compare.html and compare.json; exit 2 when A and B use different
data. Two universe backtests' results folders are compared per instrument and in aggregate. The math
is documented in ``trading_runtime/report/compare.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument
from trading_runtime.orchestration.compare import compare
from trading_runtime.report.compare import comparison_table, universe_comparison_table

DEFAULT_OUTPUT_DIR = ".runtime/compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="A: a backtest config (JSON file) or a backtest's results folder")
    parser.add_argument("b", help="B: a backtest config (JSON file) or a backtest's results folder")
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR),
                        help=f"where compare.html and compare.json go (default {DEFAULT_OUTPUT_DIR})")
    add_strategy_prefix_argument(parser)


def run(args: argparse.Namespace) -> int:
    out: Path = args.output_dir
    comparison = compare(args.a, args.b, out, Path.cwd(), allowed_prefixes(args), provenance())
    table = universe_comparison_table(comparison) if isinstance(comparison, dict) else comparison_table(comparison)
    sys.stdout.write(table)
    sys.stdout.write(f"report: {out / 'compare.html'}\n")
    return 0
