"""A config's universe of instruments (``data.instruments``, or ``data.symbol_column``) → one data config each.

``resolve_universe`` turns the universe into ``Instrument`` s, sorted by symbol, each with the data
config of that instrument alone (``data.path`` naming its file, or ``data.symbol`` its rows of a
long-format file): every later step runs an instrument exactly as a config naming it alone would.

- ``{symbol: path or store URI}``: the symbols as given (sorted).
- a glob (``data/*.csv``; relative: against the working directory): every matching file, symbol =
  the file name without its bars suffix (``AAPL.csv.gz`` → ``AAPL``). No match is an error naming
  the pattern; two files with one stem are an error.
- ``data.symbol_column`` with ``data.path``: the column's distinct values (sorted).

A symbol must be a safe directory name (``config.backtest.SYMBOL``). The universe's identity is its
sorted symbols with each file's sha256 (``universe_sha256``); ``data.sha256`` on a universe pins it
(``check_universe_pin``; ``stage`` writes it), so any other bytes of any instrument are an error.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trading_runtime.config.backtest import SYMBOL, SYMBOL_EXPECTED, DataConfig
from trading_runtime.data import LoadedBars, data_suffix, infer_format, read_bars_file
from trading_runtime.data.universe import distinct_symbols
from trading_runtime.errors import InputError
from trading_runtime.execution.data_source import data_ref, fetch_data, load_data, resolve_path, resolve_timeframe
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.planning import DataRef
from trading_runtime.store import is_uri

__all__ = ["Instrument", "check_universe_pin", "file_digests", "instrument_data", "instrument_refs", "load_universe",
           "resolve_universe", "universe_data_ref", "universe_sha256"]


@dataclass(frozen=True)
class Instrument:
    symbol: str
    data: DataConfig  # the data config of this instrument alone


def _alone(data: DataConfig, **update: object) -> DataConfig:
    return data.model_copy(update={"instruments": None, "sha256": None, **update})  # sha256 pinned the universe


def _check_symbol(symbol: str, where: str) -> None:
    if not SYMBOL.match(symbol):
        raise InputError(f"{where}: symbol {symbol!r}: expected {SYMBOL_EXPECTED}")


def _globbed(data: DataConfig, pattern: str, base_dir: Path, source: str) -> list[Instrument]:
    matches = sorted(m for m in glob.glob(pattern, root_dir=base_dir) if resolve_path(m, base_dir).is_file())
    if not matches:
        raise InputError(f"{source}: data.instruments: no file matches {pattern!r} (relative paths: against "
                         f"{base_dir})")
    by_symbol: dict[str, str] = {}
    for path in matches:
        name = Path(path).name
        suffix = data_suffix(name, data.format)
        symbol = name[: len(name) - len(suffix)] if suffix and name.lower().endswith(suffix) else Path(name).stem
        _check_symbol(symbol, f"{source}: data.instruments: {path}")
        if symbol in by_symbol:
            raise InputError(f"{source}: data.instruments: {by_symbol[symbol]} and {path} are both instrument "
                             f"{symbol!r} (one file per symbol)")
        by_symbol[symbol] = path
    return [Instrument(s, _alone(data, path=by_symbol[s])) for s in sorted(by_symbol)]


def _long_format(data: DataConfig, base_dir: Path, source: str) -> list[Instrument]:
    assert data.symbol_column is not None
    if is_uri(data.path):
        local, _ = fetch_data(data.path, None, data.format)
    else:
        local = resolve_path(data.path, base_dir)
    fmt = data.format or infer_format(local, data.path)
    symbols = distinct_symbols(read_bars_file(local, data.path), fmt, data.symbol_column, data.path)
    if not symbols:
        raise InputError(f"{data.path}: no bars (the file has no data rows)")
    for symbol in symbols:
        _check_symbol(symbol, f"{data.path}: {data.symbol_column}")
    return [Instrument(s, _alone(data, symbol=s)) for s in symbols]


def resolve_universe(data: DataConfig, base_dir: Path, source: str) -> list[Instrument]:
    """The instruments of a universe config (see the module docstring), sorted by symbol."""
    if isinstance(data.instruments, dict):
        return [Instrument(s, _alone(data, path=data.instruments[s])) for s in sorted(data.instruments)]
    if isinstance(data.instruments, str):
        return _globbed(data, data.instruments, base_dir, source)
    if data.symbol_column is not None and data.symbol is None:
        return _long_format(data, base_dir, source)
    raise ValueError("not a universe: data names one instrument")


def universe_sha256(digests: dict[str, str]) -> str:
    """The universe's identity: sha256 of the canonical JSON of its sorted symbols with their files' sha256."""
    return sha256_hex(canonical_bytes([{"symbol": s, "sha256": digests[s]} for s in sorted(digests)]))


def check_universe_pin(data: DataConfig, digests: Mapping[str, str], source: str) -> None:
    """InputError when ``data.sha256`` pins a universe other than the one of these files' sha256."""
    if data.sha256 is None:
        return
    actual = universe_sha256(dict(digests))
    if actual != data.sha256:
        raise InputError(f"{source}: data.instruments: universe sha256 {actual} (its sorted symbols with each file's "
                         f"sha256) does not match data.sha256 {data.sha256}")


def file_digests(instruments: list[Instrument], base_dir: Path) -> dict[str, str]:
    """The sha256 of each instrument's file (a store URI: fetched through the data cache)."""
    by_path: dict[str, str] = {}
    for instrument in instruments:
        path = instrument.data.path
        if path not in by_path:
            if is_uri(path):
                by_path[path] = fetch_data(path, None, instrument.data.format)[1]
            else:
                by_path[path] = sha256_hex(read_bars_file(resolve_path(path, base_dir), path))
    return {i.symbol: by_path[i.data.path] for i in instruments}


def instrument_data(data: DataConfig, symbol: str, path: str) -> DataConfig:
    """The data config of one instrument of the universe ``data``, read from ``path`` (as a plan records it)."""
    if data.symbol_column is not None:
        return _alone(data, symbol=symbol)
    return _alone(data, path=path)


def load_universe(data: DataConfig, instruments: list[Instrument],
                  base_dir: Path | None = None) -> tuple[DataConfig, dict[str, LoadedBars]]:
    """Every instrument's bars, and ``data`` with the timeframe they share (each resolved as for one
    instrument); instruments of different timeframes are an error naming both."""
    base = base_dir if base_dir is not None else Path.cwd()
    loaded: dict[str, LoadedBars] = {}
    frame: tuple[str, str] | None = None
    for instrument in instruments:
        bars = load_data(instrument.data, base)
        resolved = resolve_timeframe(instrument.data, bars).timeframe
        assert resolved is not None
        if frame is not None and resolved != frame[1]:
            raise InputError(f"data.instruments: {instrument.symbol} has {resolved} bars and {frame[0]} {frame[1]} "
                             "bars: a universe has one timeframe (set data.timeframe, or split the universe)")
        frame = frame or (instrument.symbol, resolved)
        loaded[instrument.symbol] = bars
    assert frame is not None
    return data.model_copy(update={"timeframe": frame[1]}), loaded


def instrument_refs(data: DataConfig, instruments: Mapping[str, LoadedBars],
                    paths: Mapping[str, str]) -> dict[str, DataRef]:
    """Each instrument's DataRef (``paths``: where each was read from, as the config or plan names it)."""
    return {s: data_ref(instrument_data(data, s, paths[s]), one) for s, one in sorted(instruments.items())}


def universe_data_ref(data: DataConfig, instruments: Mapping[str, LoadedBars], paths: Mapping[str, str]) -> DataRef:
    """The universe as one DataRef: sha256 = ``universe_sha256``, bars summed, the earliest first and the
    latest last bar, the dropped rows summed per rule; ``path`` says what it is (the instruments are listed
    with their own paths in the plan)."""
    refs = instrument_refs(data, instruments, paths)
    symbols = sorted(refs)
    dropped: dict[str, int] = {}
    for ref in refs.values():
        for rule, n in ref.dropped.items():
            dropped[rule] = dropped.get(rule, 0) + n
    shown = ", ".join(symbols[:5]) + (f", ... ({len(symbols)})" if len(symbols) > 5 else "")
    assert data.timeframe is not None
    return DataRef(path=f"universe: {shown}", sha256=universe_sha256({s: r.sha256 for s, r in refs.items()}),
                   n_bars=sum(r.n_bars for r in refs.values()), first_ts=min(r.first_ts for r in refs.values()),
                   last_ts=max(r.last_ts for r in refs.values()), timeframe=data.timeframe,
                   dropped=dict(sorted(dropped.items())), bars_per_year=data.bars_per_year)
