"""Run one backtest from a config file and write stats, equity, trades, manifest and meta."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument, config_argument
from trading_runtime.config import BacktestConfig, config_sha256
from trading_runtime.execution.backtest import run_backtest_config
from trading_runtime.execution.data_source import resolve_path
from trading_runtime.execution.outputs import backtest_files
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.report import load_backtest, write_report
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "backtest config JSON")
    parser.add_argument("--output-dir", default=None, help="override output.dir of the config")
    add_strategy_prefix_argument(parser)


def run(args: argparse.Namespace) -> int:
    started = time.time()
    t0 = time.perf_counter()
    source = config_name(args.config)
    config = load_config(BacktestConfig, args.config)
    digest = config_sha256(config)
    log.info("backtest %s: config %s seed %d", config.id, digest[:12], config.seed,
             extra={"config_sha256": digest})
    cwd = Path.cwd()
    backtest = run_backtest_config(config, source, cwd, allowed_prefixes(args))
    t_run = time.perf_counter()
    bars = backtest.data.bars
    manifest = {
        "kind": "backtest",
        "config_id": config.id,
        "config_sha256": digest,
        "data": backtest.data_ref().model_dump(mode="json"),
        "strategy": {"class_path": config.strategy.class_path,
                     "params": backtest.result_params()},
        "seed": config.seed,
        "provenance": provenance(),
    }
    files = backtest_files(backtest, manifest)
    manifest["files"] = {name: sha256_hex(data) for name, data in sorted(files.items()) if name != "manifest.json"}
    files["manifest.json"] = canonical_bytes(manifest)
    out_dir = resolve_path(args.output_dir or config.output.dir, cwd)
    store = open_store(str(out_dir))
    for name in ("equity.parquet", "trades.csv", "stats.json", "manifest.json"):
        store.put_bytes(name, files[name])
    t_write = time.perf_counter()
    meta = {
        "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(timespec="milliseconds"),
        "seconds": {"run": round(t_run - t0, 6), "write": round(t_write - t_run, 6)},
        "hostname": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
    }
    store.put_bytes("meta.json", canonical_bytes(meta))
    report = write_report(load_backtest(store))  # report.html, read back from the files just written
    m = backtest.metrics
    summary = (
        f"backtest {config.id}: {len(bars)} bars, {m['n_trades']} trades, "
        f"final_equity {m['final_equity']:.2f}, total_return {m['total_return']:.4%}, "
        f"sharpe {_num(m['sharpe'])}, max_drawdown {m['max_drawdown']:.4%}\n"
        f"report: {report}\nresults: {out_dir}\n"
    )
    sys.stdout.write(summary)
    log.info("wrote %s in %.2fs", out_dir, t_write - t0)
    return 0


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
