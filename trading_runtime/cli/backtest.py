"""Run one backtest from a config file and write stats, equity, trades, manifest and meta."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument, config_argument
from trading_runtime.cli.startup import collection_paused
from trading_runtime.config import BacktestConfig, config_sha256
from trading_runtime.errors import InputError
from trading_runtime.execution.read_ahead import backtest_data_reading
from trading_runtime.orchestration.replay import experiment_location, replay_config

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "backtest config JSON (or --experiment and --run)", required=False)
    parser.add_argument("--experiment", default=None, metavar="URI",
                        help="replay a run of this experiment: <store>/experiments/<id> (with --run)")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="the run to replay (with --experiment)")
    parser.add_argument("--segment", default=None, choices=("in_sample", "out_of_sample"),
                        help="the run's segment to replay (default: out_of_sample when its fold has one)")
    parser.add_argument("--output-dir", default=None, help="override output.dir of the config")
    add_strategy_prefix_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.config is not None and args.experiment is None and args.run is None:
        config = load_config(BacktestConfig, args.config)
        source = config_name(args.config)
    elif args.config is None and args.experiment is not None and args.run is not None:
        store, experiment_id = experiment_location(args.experiment, Path.cwd())
        config = replay_config(store, experiment_id, args.run, args.segment)
        source = f"{args.experiment} run {args.run}"
    else:
        raise InputError("backtest: give --config FILE, or --experiment URI and --run RUN_ID (not both)")
    digest = config_sha256(config)
    log.info("backtest %s: config %s seed %d", config.id, digest[:12], config.seed,
             extra={"config_sha256": digest})
    if config.data.is_universe:
        return _run_universe(config, source, args)
    cwd = Path.cwd()
    with backtest_data_reading(config, cwd) as read:  # the data are read on a thread from here on
        with collection_paused():  # numba's side (none imported yet), as the CLI's own imports (cli/startup.py)
            from trading_runtime.orchestration.backtest import run_backtest
        done = run_backtest(config, source, cwd, allowed_prefixes(args), provenance(), args.output_dir, read)
    m = done.metrics
    sys.stdout.write(
        f"backtest {config.id}: {done.n_bars} bars, {m['n_trades']} trades, "
        f"final_equity {m['final_equity']:.2f}, total_return {m['total_return']:.4%}, "
        f"sharpe {_num(m['sharpe'])}, max_drawdown {m['max_drawdown']:.4%}\n"
        f"report: {done.report}\nresults: {done.out_dir}\n"
    )
    log.info("wrote %s in %.2fs", done.out_dir, done.seconds)
    return 0


def _run_universe(config: BacktestConfig, source: str, args: argparse.Namespace) -> int:
    with collection_paused():  # numba's side, as the CLI's own imports (cli/startup.py)
        from trading_runtime.orchestration.universe import UNIVERSE_FILE, run_universe_backtest
    done = run_universe_backtest(config, source, Path.cwd(), allowed_prefixes(args), provenance(), args.output_dir)
    lines = [f"backtest {config.id}: {len(done.instruments)} instruments"]
    for symbol, one in done.instruments.items():
        m = one.metrics
        lines.append(f"  {symbol}: {one.n_bars} bars, {m['n_trades']} trades, total_return {m['total_return']:.4%}, "
                     f"sharpe {_num(m['sharpe'])}, max_drawdown {m['max_drawdown']:.4%}")
    agg = done.document["aggregate"]
    lines.append(f"  mean: total_return {_pct(agg['total_return']['mean'])}, sharpe {_num(agg['sharpe']['mean'])}; "
                 f"share with total_return > 0: {_pct(agg['total_return']['share_positive'])}")
    lines.append(f"results: {done.out_dir}/<symbol>/, {done.out_dir / UNIVERSE_FILE}")
    sys.stdout.write("\n".join(lines) + "\n")
    log.info("wrote %s in %.2fs", done.out_dir, done.seconds)
    return 0


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
