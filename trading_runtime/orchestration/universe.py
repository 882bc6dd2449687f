"""``backtest`` over a universe: one results folder per instrument, then ``universe.json``.

Each instrument runs as the config naming it alone (``instrument_config``: ``data`` of that
instrument, ``output.dir`` ``<output.dir>/<symbol>``), through the one backtest code path, so
``<output dir>/<symbol>/`` is byte for byte what ``backtest`` writes for that config.
``universe.json`` holds each instrument's headline metrics and their aggregates (mean, median,
min, max over the instruments where the metric is defined, and the share of instruments where it
is positive); it is a result file (canonical JSON; no wall times).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_runtime.config import BacktestConfig, OutputConfig, config_sha256
from trading_runtime.execution.data_source import resolve_path
from trading_runtime.execution.universe import (
    Instrument,
    check_universe_pin,
    file_digests,
    resolve_universe,
    universe_sha256,
)
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.orchestration.backtest import BacktestOutcome, run_backtest
from trading_runtime.store import open_store

UNIVERSE_SCHEMA_VERSION = 1
UNIVERSE_FILE = "universe.json"
HEADLINE_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "n_trades", "win_rate",
                    "profit_factor", "exposure", "final_equity")


@dataclass(frozen=True)
class UniverseOutcome:
    out_dir: Path
    instruments: dict[str, BacktestOutcome]
    document: dict[str, Any]
    seconds: float


def instrument_config(config: BacktestConfig, instrument: Instrument) -> BacktestConfig:
    """The config of ``instrument`` alone: what a user would write to backtest only it."""
    out = f"{config.output.dir.rstrip('/')}/{instrument.symbol}"
    return config.model_copy(update={"data": instrument.data, "output": OutputConfig(dir=out)})


def aggregate(values: list[float | int | None]) -> dict[str, Any]:
    """mean, median, min, max over the defined values; n (how many are defined); share_positive over all."""
    defined = [float(v) for v in values if v is not None]
    positive = sum(1 for v in defined if v > 0)
    return {
        "n": len(defined),
        "mean": statistics.fmean(defined) if defined else None,
        "median": statistics.median(defined) if defined else None,
        "min": min(defined) if defined else None,
        "max": max(defined) if defined else None,
        "share_positive": positive / len(values) if values else None,
    }


def universe_document(config: BacktestConfig, outcomes: Mapping[str, BacktestOutcome],
                      digests: Mapping[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for symbol in sorted(outcomes):
        metrics = outcomes[symbol].metrics
        rows.append({"symbol": symbol, "sha256": digests[symbol], "n_bars": outcomes[symbol].n_bars,
                     "results": f"{symbol}/", "metrics": {m: metrics.get(m) for m in HEADLINE_METRICS}})
    return {
        "schema_version": UNIVERSE_SCHEMA_VERSION,
        "kind": "universe_backtest",
        "config_id": config.id,
        "config_sha256": config_sha256(config),
        "universe_sha256": universe_sha256(dict(digests)),
        "instruments": rows,
        "aggregate": {m: aggregate([r["metrics"][m] for r in rows]) for m in HEADLINE_METRICS},
    }


def run_universe_backtest(config: BacktestConfig, source: str, cwd: Path, prefixes: tuple[str, ...],
                          provenance: Mapping[str, Any], output_dir: str | None = None) -> UniverseOutcome:
    """Backtest every instrument of ``config``'s universe into ``<output dir>/<symbol>/``, then write
    ``universe.json`` beside them."""
    t0 = time.perf_counter()
    out_dir = resolve_path(output_dir or config.output.dir, cwd)
    outcomes: dict[str, BacktestOutcome] = {}
    digests: dict[str, str] = {}
    members = resolve_universe(config.data, cwd, source)
    if config.data.sha256 is not None:  # pinned: every file checked before anything is written
        check_universe_pin(config.data, file_digests(members, cwd), source)
    for instrument in members:
        alone = instrument_config(config, instrument)
        done = run_backtest(alone, f"{source} ({instrument.symbol})", cwd, prefixes, provenance,
                            str(out_dir / instrument.symbol))
        outcomes[instrument.symbol] = done
        digests[instrument.symbol] = done.data_sha256
    doc = universe_document(config, outcomes, digests)
    open_store(str(out_dir)).put_bytes(UNIVERSE_FILE, canonical_bytes(doc))
    return UniverseOutcome(out_dir, outcomes, doc, time.perf_counter() - t0)
