"""Run one backtest from a config file and write stats, equity, trades, manifest and meta."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument, config_argument
from trading_runtime.config import BacktestConfig, config_sha256
from trading_runtime.orchestration.backtest import run_backtest

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "backtest config JSON")
    parser.add_argument("--output-dir", default=None, help="override output.dir of the config")
    add_strategy_prefix_argument(parser)


def run(args: argparse.Namespace) -> int:
    config = load_config(BacktestConfig, args.config)
    digest = config_sha256(config)
    log.info("backtest %s: config %s seed %d", config.id, digest[:12], config.seed,
             extra={"config_sha256": digest})
    done = run_backtest(config, config_name(args.config), Path.cwd(), allowed_prefixes(args), provenance(),
                        args.output_dir)
    m = done.metrics
    sys.stdout.write(
        f"backtest {config.id}: {done.n_bars} bars, {m['n_trades']} trades, "
        f"final_equity {m['final_equity']:.2f}, total_return {m['total_return']:.4%}, "
        f"sharpe {_num(m['sharpe'])}, max_drawdown {m['max_drawdown']:.4%}\n"
        f"report: {done.report}\nresults: {done.out_dir}\n"
    )
    log.info("wrote %s in %.2fs", done.out_dir, done.seconds)
    return 0


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
