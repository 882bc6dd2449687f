"""A config's ``data`` → loaded bars, from a local path or a store URI (downloaded, cached by sha256).

``data.path`` is a local path (relative: against the working directory) or a store URI
(``s3://bucket/key``, ``file:///abs/path``). A URI is read through the artifact store and kept in
the data cache (:mod:`trading_runtime.data.cache`) as ``<sha256><suffix>``; with a pinned digest
(``data.sha256``, or the plan's when a shard runs) a verified cached copy is used without a download.
Where the bytes came from never changes a result: only their sha256 is part of it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from trading_runtime.config.backtest import MAX_TIMEFRAME_SECONDS, DataConfig
from trading_runtime.data import (
    BarsFormat,
    LoadedBars,
    ReadOptions,
    cached_file,
    check_sha256,
    data_suffix,
    default_cache_dir,
    load_bars,
    store_in_cache,
)
from trading_runtime.errors import InputError
from trading_runtime.planning import DataRef, describe_dropped
from trading_runtime.store import is_uri, read_object

__all__ = ["bar_spacing", "data_ref", "fetch_data", "load_data", "resolve_path", "resolve_timeframe"]

log = logging.getLogger(__name__)


def resolve_path(path: str, base_dir: Path) -> Path:
    """Relative paths resolve against ``base_dir`` (the working directory): the one documented rule."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


def fetch_data(uri: str, sha256: str | None, fmt: BarsFormat | None = None, pinned_by: str = "data.sha256",
               cache_dir: Path | None = None) -> tuple[Path, str]:
    """The local copy of the bars file at ``uri`` and its sha256 (verified against ``sha256`` when given)."""
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    suffix = data_suffix(uri, fmt)
    if sha256 is not None:
        hit = cached_file(cache, sha256, suffix)
        if hit is not None:
            return hit, sha256
    content = read_object(uri)
    digest = hashlib.sha256(content).hexdigest()
    check_sha256(uri, digest, sha256, pinned_by)
    return store_in_cache(cache, content, digest, suffix), digest


def load_data(data: DataConfig, base_dir: Path, sha256: str | None = None, pinned_by: str = "data.sha256",
              cache_dir: Path | None = None, validated_sha256: str | None = None) -> LoadedBars:
    """Load ``data`` (see the module docstring); ``sha256`` pins the bytes when the config does not.
    ``validated_sha256``: the digest of bytes already validated with this ``data``'s options (a plan's; see
    ``load_bars``)."""
    if data.is_universe:
        raise InputError("data: a universe of instruments (data.instruments or data.symbol_column) where one "
                         "instrument is expected (backtest, sweep/plan and optimize take universes)")
    pin = data.sha256 if data.sha256 is not None else sha256
    by = "data.sha256" if data.sha256 is not None else pinned_by
    if is_uri(data.path):
        local, digest = fetch_data(data.path, pin, data.format, by, cache_dir)
        pin = digest
    else:
        local = resolve_path(data.path, base_dir)
    options = ReadOptions(timezone=data.timezone, time_unit=data.time_unit, on_invalid=data.on_invalid,
                          symbol_column=data.symbol_column, symbol=data.symbol)
    shown = data.path if data.symbol is None else f"{data.path} ({data.symbol_column} {data.symbol})"
    loaded = load_bars(local, data.format, data.start, data.end, display_name=shown, sha256=pin, pinned_by=by,
                       options=options, validated_sha256=validated_sha256)
    if loaded.dropped:
        log.warning("%s: %s", data.path, describe_dropped(loaded.dropped))
    return loaded


def data_ref(config: DataConfig, data: LoadedBars) -> DataRef:
    """What a result records of its data (backtest manifest, plan, study): the one place it is built."""
    bars = data.bars
    return DataRef(path=config.path, sha256=data.sha256, n_bars=len(bars), first_ts=int(bars.ts[0]),
                   last_ts=int(bars.ts[-1]), timeframe=config.timeframe, dropped=dict(sorted(data.dropped.items())),
                   bars_per_year=config.bars_per_year)


_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_NS_PER_S = 1_000_000_000


def bar_spacing(ts: npt.NDArray[np.int64]) -> tuple[int, int] | None:
    """The most common spacing between consecutive bars (ns; the shortest of equally common ones) and
    how many gaps have it; None for fewer than two bars."""
    if len(ts) < 2:
        return None
    gaps = np.diff(ts)
    if (gaps == gaps[0]).all():  # evenly spaced (the usual case): no sort of every gap
        return int(gaps[0]), len(gaps)
    spacings, counts = np.unique(gaps, return_counts=True)
    best = int(np.argmax(counts))
    return int(spacings[best]), int(counts[best])


def _timeframe_text(ns: int) -> str | None:
    """``1d``, ``15m``, ... for a spacing of whole seconds; None otherwise."""
    if ns <= 0 or ns % _NS_PER_S:
        return None
    seconds = ns // _NS_PER_S
    unit, size = next((u, n) for u, n in _UNITS if seconds % n == 0)
    return f"{seconds // size}{unit}"


def resolve_timeframe(data: DataConfig, loaded: LoadedBars) -> DataConfig:
    """``data`` with ``timeframe`` set: the declared one when the bars agree, else the bars' most common
    spacing (gaps such as weekends are normal: only the most common spacing counts). InputError when a
    declared timeframe contradicts the bars, or none is declared and none can be inferred."""
    found = bar_spacing(loaded.bars.ts)
    if found is None:
        if data.timeframe is None:
            raise InputError(f"{data.path}: cannot infer data.timeframe from one bar (set data.timeframe)")
        return data
    spacing, count = found
    text = _timeframe_text(spacing)
    gaps = f"{count:,} of {len(loaded.bars) - 1:,} gaps"
    if data.timeframe is None:
        if text is None or not 0 < spacing // _NS_PER_S <= MAX_TIMEFRAME_SECONDS:
            raise InputError(f"{data.path}: cannot infer data.timeframe: the most common spacing of the bars is "
                             f"{spacing:,} ns ({gaps}; expected whole seconds up to 366 days)")
        return data.model_copy(update={"timeframe": text})
    if data.timeframe_seconds * _NS_PER_S != spacing:
        shown = text if text is not None else f"{spacing:,} ns"
        raise InputError(f"{data.path}: data.timeframe {data.timeframe} contradicts the bars: their most common "
                         f"spacing is {shown} ({gaps}); set data.timeframe to {shown} or leave it out")
    return data
