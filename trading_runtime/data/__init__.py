"""Bar files → framework ``Bars``: the only place in the runtime that turns bar data into Bars.

``load_bars(path, fmt, start, end, display_name)`` reads a CSV or Parquet file, reports every
problem as one line of an ``InputError``, and returns ``LoadedBars`` (bars, sha256 of the file's
bytes, path, row counts). The accepted formats and messages are in ``trading_runtime.data.loader``.
"""

from __future__ import annotations

from trading_runtime.data.cache import cached_file, default_cache_dir, store_in_cache
from trading_runtime.data.loader import (
    BarsFormat,
    LoadedBars,
    ReadOptions,
    check_sha256,
    data_suffix,
    infer_format,
    load_bars,
    read_bars_file,
)

__all__ = [
    "BarsFormat", "LoadedBars", "ReadOptions", "cached_file", "check_sha256", "data_suffix", "default_cache_dir",
    "infer_format", "load_bars", "read_bars_file", "store_in_cache",
]
