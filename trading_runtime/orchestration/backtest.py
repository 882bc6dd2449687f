"""One backtest from its config: run it, write stats, equity, trades, manifest, meta and report.html."""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trading_runtime.config import BacktestConfig, config_sha256
from trading_runtime.data import LoadedBars
from trading_runtime.execution.backtest import run_backtest_config
from trading_runtime.execution.data_source import resolve_path
from trading_runtime.execution.outputs import backtest_files
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.report import load_backtest, write_report
from trading_runtime.store import open_store

RESULT_FILES = ("equity.parquet", "trades.csv", "stats.json", "manifest.json")


@dataclass(frozen=True)
class BacktestOutcome:
    out_dir: Path
    report: str  # where report.html went
    n_bars: int
    metrics: Mapping[str, Any]
    seconds: float  # run and write
    data_sha256: str = ""  # the bars file's sha256


def run_backtest(config: BacktestConfig, source: str, cwd: Path, prefixes: tuple[str, ...],
                 provenance: Mapping[str, Any], output_dir: str | None = None,
                 read: Callable[[], LoadedBars] | None = None) -> BacktestOutcome:
    """Run ``config`` (``source`` names it in errors) and write its results to ``output_dir`` (default
    ``output.dir`` of the config), then its report, read back from the files just written. ``read``: the
    config's data being read on a thread (``execution.read_ahead``; see ``run_backtest_config``)."""
    started = time.time()
    t0 = time.perf_counter()
    backtest = run_backtest_config(config, source, cwd, prefixes, read)
    t_run = time.perf_counter()
    manifest: dict[str, Any] = {
        "kind": "backtest",
        "config_id": config.id,
        "config_sha256": config_sha256(config),
        "data": backtest.data_ref().model_dump(mode="json"),
        "strategy": {"class_path": config.strategy.class_path,
                     "params": backtest.result_params()},
        "seed": config.seed,
        "provenance": dict(provenance),
    }
    files = backtest_files(backtest, manifest)
    manifest["files"] = {name: sha256_hex(data) for name, data in sorted(files.items()) if name != "manifest.json"}
    files["manifest.json"] = canonical_bytes(manifest)
    out_dir = resolve_path(output_dir or config.output.dir, cwd)
    store = open_store(str(out_dir))
    for name in RESULT_FILES:
        store.put_bytes(name, files[name])
    t_write = time.perf_counter()
    meta = {
        "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(timespec="milliseconds"),
        "seconds": {"run": round(t_run - t0, 6), "write": round(t_write - t_run, 6)},
        "hostname": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
    }
    store.put_bytes("meta.json", canonical_bytes(meta))
    report = write_report(load_backtest(store))
    return BacktestOutcome(out_dir, report, len(backtest.data.bars), backtest.metrics, t_write - t0,
                           backtest.data.sha256)
