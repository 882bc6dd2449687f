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

from trading_runtime.config.backtest import DataConfig
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
from trading_runtime.store import is_uri, read_object

__all__ = ["fetch_data", "load_data", "resolve_path"]

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
              cache_dir: Path | None = None) -> LoadedBars:
    """Load ``data`` (see the module docstring); ``sha256`` pins the bytes when the config does not."""
    pin = data.sha256 if data.sha256 is not None else sha256
    by = "data.sha256" if data.sha256 is not None else pinned_by
    if is_uri(data.path):
        local, digest = fetch_data(data.path, pin, data.format, by, cache_dir)
        pin = digest
    else:
        local = resolve_path(data.path, base_dir)
    options = ReadOptions(timezone=data.timezone, time_unit=data.time_unit, on_invalid=data.on_invalid)
    loaded = load_bars(local, data.format, data.start, data.end, display_name=data.path, sha256=pin, pinned_by=by,
                       options=options)
    if loaded.dropped:
        counts = ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in sorted(loaded.dropped.items()))
        log.warning("%s: dropped %d invalid row(s) (data.on_invalid=drop): %s", data.path,
                    sum(loaded.dropped.values()), counts)
    return loaded
