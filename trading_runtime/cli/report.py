"""Write a self-contained report.html (inline SVG charts, no network) for a backtest or an experiment."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from trading_runtime.report import load_results, write_report
from trading_runtime.report.results import ExperimentResults

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True,
                        help="a backtest's output folder, or an experiment's results: <store>/experiments/<id> "
                             "(e.g. .runtime/experiments/experiments/<id> or s3://bucket/prefix/experiments/<id>)")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the report to this local file instead of report.html beside the results")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    results = load_results(args.results, Path.cwd())
    ctx = {"experiment": results.experiment_id} if isinstance(results, ExperimentResults) else {}
    where = write_report(results, args.output)
    log.info("report: %s in %.2fs", where, time.perf_counter() - t0, extra=ctx)
    sys.stdout.write(f"{where}\n")
    return 0
