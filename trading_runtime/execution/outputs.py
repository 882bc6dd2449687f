"""The files of a single backtest: stats.json, equity.parquet, trades.csv, manifest.json, meta.json."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from trading_runtime.execution.backtest import BacktestRun
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import DataRef


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrategyRef(_Document):
    class_path: str
    params: dict[str, Any]  # the strategy's validated parameters, defaults included


class BacktestManifest(_Document):
    """manifest.json of a backtest (written by ``trading-runtime backtest``), as its readers see it."""

    kind: Literal["backtest"]
    config_id: str
    config_sha256: str
    data: DataRef
    strategy: StrategyRef
    seed: int
    provenance: dict[str, Any]
    files: dict[str, str]  # sha256 of every other payload file


TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "side", "units", "pnl", "fees", "is_open")


def iso_utc(ns: int) -> str:
    """Nanoseconds since the epoch → ``2024-01-01T00:00:00Z`` (fractions kept when present)."""
    secs, rem = divmod(int(ns), 1_000_000_000)
    text = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if rem:
        text += f".{rem:09d}".rstrip("0")
    return text + "Z"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(0.0 if value == 0.0 else value)
    return str(value)


def trades_csv(records: list[dict[str, Any]]) -> bytes:
    """Trades as CSV: ISO UTC times, floats in shortest round-trip form, empty cells for open exits."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for r in records:
        row = dict(r)
        row["entry_time"] = iso_utc(r["entry_time"])
        row["exit_time"] = None if r["exit_time"] is None else iso_utc(r["exit_time"])
        writer.writerow([_cell(row[c]) for c in TRADE_COLUMNS])
    return buf.getvalue().encode("utf-8")


def equity_parquet(ts: np.ndarray, equity: np.ndarray, position: np.ndarray) -> bytes:
    """Equity and signed position at every close, as Parquet (deterministic writer options)."""
    import pyarrow.parquet as pq  # a backtest's output only (it imports Arrow's filesystems: not at start-up)

    table = pa.table({
        "ts": pa.array(ts, type=pa.timestamp("ns", tz="UTC")),
        "equity": pa.array(equity, type=pa.float64()),
        "position": pa.array(position, type=pa.float64()),
    })
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=False, use_dictionary=False)
    return bytes(sink.getvalue().to_pybytes())


def backtest_files(run: BacktestRun, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Payload files by name (manifest included; meta.json is written apart)."""
    sim = run.result.simulation
    ts = run.data.bars.ts[sim.start:]
    return {
        "stats.json": canonical_bytes(run.metrics),
        "trades.csv": trades_csv(run.trade_records()),
        "equity.parquet": equity_parquet(ts, sim.equity, sim.position),
        "manifest.json": canonical_bytes(manifest),
    }
