"""Bar files → framework ``Bars``: the only place in the runtime that reads bar data.

Formats
    ``csv`` (also gzip-compressed: ``.csv.gz``, detected from the gzip magic bytes) and ``parquet``.
    With ``fmt=None`` the format comes from the file name: ``.csv``/``.csv.gz`` → csv,
    ``.parquet``/``.pq`` → parquet (case-insensitive).

Columns (:mod:`trading_runtime.data._layout`)
    Names match case-insensitively. A time column (``timestamp``, ``datetime``, ``date``, ``time``
    or ``ts``, or an unnamed first column / ``__index_level_0__``: a pandas index), ``open, high,
    low, close`` (numbers) and optionally ``volume`` (without it ``Bars.has_volume`` is False and
    the volume zeros). Other columns are ignored; their order does not matter. Times (``ReadOptions``):

    - ISO 8601 text with or without a time part; with ``Z`` or an offset it is converted to UTC,
      without one it is a wall-clock time in ``options.timezone``. Parquet timestamp columns: with a
      zone as they are, without one in ``options.timezone``; date columns are midnight.
    - integer epoch counts of ``options.time_unit``; without a unit only a column named ``ts`` is
      read as epoch nanoseconds (integer text in CSV, any integer type in Parquet).

    In CSV, numbers are decimal text (``nan`` is read as a number and then rejected as not finite);
    cells may be padded with spaces.

Checks
    Every cell that cannot be converted, then every rule of ``trading_framework.validate_bars``
    (strictly increasing time, finite prices > 0, ``low <= min(open, close)``,
    ``high >= max(open, close)``, finite volume >= 0) applied to the whole file, each problem on one
    line of an ``InputError`` (exit code 2), at most 20 of them, then ``{name}: ... and N more problems``::

        {name}: row {r}: {column}: expected {what} (got {value})
        {name}: {count} rows: {column}: expected {what} (got row {r}: {value}, row {r}: {value}, ...)

    (the second form: the same problem on several rows, with its first three). With
    ``options.on_invalid="drop"`` rows with a price <= 0, then OHLC-inconsistent rows, then rows
    repeating an earlier kept time are removed first and counted in ``LoadedBars.dropped``.

    ``{name}`` is ``display_name`` or the path as given; ``r`` is the 1-based data row (the header
    is not counted, so in a CSV file it is the line number - 1: blank lines count as rows); raw text
    that could not be read is shown as a JSON string (``"abc"``), numbers and times as values
    (``nan``, ``-1.5``, ``2024-01-01T00:01:00Z``). An unreadable cell is reported once, as such; the
    ``validate_bars`` rules still run on every cell that was read (the time order between the rows
    whose time was read), so one pass shows everything to fix. A row whose every cell is blank
    (a blank line) is one problem: ``{name}: row {r}: expected a bar (got an empty row)``.
    File-level problems: ``{name}: file not found``,
    ``{name}: cannot read CSV: {reason}``, ``{name}: cannot read Parquet: {reason}``,
    ``{name}: missing column(s) close (expected ...; found {columns}); closest to close: Clse``,
    ``{name}: no bars (the file has no data rows)``, ``{name}: no bars between {start} and {end}``.

Window
    ``start`` (inclusive) and ``end`` (exclusive) are ISO 8601 dates or datetimes (``2024-01-03``,
    ``2024-01-03T12:00:00Z``); without a zone they are in ``options.timezone``. They select rows after the whole file
    has been validated.

Digest
    ``LoadedBars.sha256`` is the SHA-256 of the file's bytes exactly as read (compressed bytes for
    ``.csv.gz``); the bars are parsed from those same bytes, so the digest names what was loaded.
    A pinned digest (``sha256=``, the config's ``data.sha256``) that differs is
    ``{name}: sha256 {actual} does not match data.sha256 {pinned}``.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trading_framework import Bars, validate_bars
from trading_runtime.data._columns import ColumnParser, FloatArray, iso_text
from trading_runtime.data._digest import sha256_on_thread
from trading_runtime.data._layout import VALUE_ROLES, WANTED, Layout, resolve_layout
from trading_runtime.data._problems import ProblemReport, quote
from trading_runtime.data._readers import RawTable, read_csv, read_parquet, release_arrow_memory
from trading_runtime.data.universe import select_symbol
from trading_runtime.errors import InputError

BarsFormat = Literal["csv", "parquet"]

OnInvalid = Literal["error", "drop"]
TimeUnit = Literal["s", "ms", "us", "ns"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read times and what to do with invalid rows (the config's ``data.timezone``,
    ``data.time_unit``, ``data.on_invalid``)."""

    timezone: str = "UTC"
    time_unit: TimeUnit | None = None
    on_invalid: OnInvalid = "error"
    symbol_column: str | None = None
    """With ``symbol``: a long-format file; only the rows whose ``symbol_column`` is ``symbol`` are read."""
    symbol: str | None = None

SUFFIXES: tuple[tuple[str, BarsFormat], ...] = (
    (".csv", "csv"),
    (".csv.gz", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
)
VALIDATION_LIMIT = 10_000
"""validate_bars violations collected at most; beyond it the count is reported as 'at least'."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


@dataclass(frozen=True, eq=False)
class LoadedBars:
    """Bars read from one file.

    ``n_rows`` is the number of bars in ``bars`` (after the start/end window); ``file_rows`` the
    number of data rows in the file.
    """

    bars: Bars
    sha256: str
    path: Path
    n_rows: int
    file_rows: int
    fmt: BarsFormat
    dropped: dict[str, int] = field(default_factory=dict)
    """Rows removed per rule with ``on_invalid="drop"`` (non-zero counts only)."""


def infer_format(path: Path, name: str | None = None) -> BarsFormat:
    """The format a file name implies (see the module docstring); InputError when it implies none."""
    lowered = path.name.lower()
    for suffix, fmt in SUFFIXES:
        if lowered.endswith(suffix):
            return fmt
    known = ", ".join(suffix for suffix, _ in SUFFIXES)
    raise InputError(f"{name or path}: cannot tell the format from the file name (expected a suffix {known})")


# Largest bars file read (bytes): the whole file is read into memory and hashed.
MAX_FILE_BYTES = 8 * 1024**3
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def data_suffix(name: str, fmt: BarsFormat | None = None) -> str:
    """The bars suffix ``name`` ends with (``.csv.gz``, ``.parquet``, ...; lower-case), else ``.<fmt>`` or ""."""
    lowered = name.lower()
    matches = [suffix for suffix, _ in SUFFIXES if lowered.endswith(suffix)]
    if matches:
        return max(matches, key=len)
    return f".{fmt}" if fmt is not None else ""


def check_sha256(name: str, actual: str, pinned: str | None, pinned_by: str = "data.sha256") -> None:
    """InputError naming both digests when the bytes read are not the pinned ones."""
    if pinned is not None and actual != pinned:
        raise InputError(f"{name}: sha256 {actual} does not match {pinned_by} {pinned}")


def read_bars_file(path: Path, name: str) -> bytes:
    """The bytes of a bars file; a missing or unreadable file is one InputError line naming ``name``."""
    return _read_bytes(path, name)


def _read_bytes(path: Path, name: str) -> bytes:
    """The file's bytes; only a regular file of at most MAX_FILE_BYTES (a FIFO would block, /dev/zero never end)."""
    try:
        info = path.stat()
    except OSError:
        info = None  # reported by the read below, with its reason
    if info is not None and not stat.S_ISDIR(info.st_mode):
        if not stat.S_ISREG(info.st_mode):
            kind = next((what for test, what in _FILE_KINDS if test(info.st_mode)), "not a regular file")
            raise InputError(f"{name}: expected a regular file (got {kind})")
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(f"{name}: {info.st_size:,} bytes; at most {MAX_FILE_BYTES:,} bytes are read "
                             "(split the data or narrow it with data.start/data.end before writing the file)")
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{name}: expected a file (got a directory)") from None
    except OSError as error:
        raise InputError(f"{name}: cannot read file: {error.strerror or error}") from None


def _instant_ns(label: str, text: str | None, timezone: str = "UTC") -> int | None:
    """An ISO 8601 date or datetime as UTC epoch nanoseconds (naive means in ``timezone``)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"{label}: expected an ISO 8601 date or datetime (got {quote(text)})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC if timezone == "UTC" else ZoneInfo(timezone))
    ns = ((moment - _EPOCH) // timedelta(microseconds=1)) * 1000
    return min(max(ns, _INT64_MIN), _INT64_MAX)  # far dates still compare correctly with any bar


def _fixed(text: str) -> Callable[[int], str]:
    return lambda _row: text


def _convert(table: RawTable, layout: Layout, options: ReadOptions,
             report: ProblemReport) -> tuple[Bars, ColumnParser] | None:
    """The columns as Bars (unreadable cells: NaN prices, time 0), or None when a column is unusable."""
    skip = table.empty_rows
    if skip is not None and skip.any():
        report.rows(np.flatnonzero(skip), 0, "", "a bar", _fixed("an empty row"))
    parser = ColumnParser(report, table.n_rows, skip)
    source = table.columns[layout.time]
    if options.time_unit is not None:
        ts = parser.epoch(layout.time, 1, source, options.time_unit)
    elif layout.time_is_epoch_ns:
        ts = parser.epoch(layout.time, 1, source, "ns")
    elif isinstance(source, pa.Array | pa.ChunkedArray) and pa.types.is_integer(source.type):
        report.file(f"{layout.time}: integer times (expected ISO 8601 text or timestamps; for epoch numbers set "
                    "data.time_unit to s, ms, us or ns)")
        ts = None
    else:
        ts = parser.iso_timestamps(layout.time, 1, source, options.timezone)
    values: list[FloatArray | None] = []
    for order, (_, column) in enumerate(layout.value_columns(), start=2):
        if column is None:
            values.append(np.zeros(table.n_rows))
        else:
            values.append(parser.floats(column, order, table.columns[column]))
    if ts is None or any(v is None for v in values):
        return None
    bars = Bars(ts, *(v for v in values if v is not None), has_volume=layout.volume is not None)
    return bars, parser


def _validate(bars: Bars, parser: ColumnParser, layout: Layout, epoch: bool, report: ProblemReport,
              origin: npt.NDArray[np.intp] | None = None) -> None:
    """validate_bars over the readable cells; its 0-based rows become the file's rows.

    When every cell was read this is one pass. Otherwise the time order is checked on the rows whose
    time was read (other columns replaced by a valid constant), and the value rules on every row
    (time replaced by 0, 1, 2, ...; unreadable cells are NaN, which fails no comparison) keeping
    only the violations on cells that were read.
    """
    n = len(bars)
    passes: list[tuple[Bars, npt.NDArray[np.intp] | None, ColumnParser | None]]  # rows None: row i is row i
    if not parser.bad.any():
        passes = [(bars, None, None)]
    else:
        time_rows = np.flatnonzero(~parser.bad_cells(layout.time))
        ones = np.ones(len(time_rows))
        time_only = Bars(bars.ts[time_rows], ones, ones, ones, ones, ones)
        values_only = Bars(np.arange(n, dtype=np.int64), bars.open, bars.high, bars.low, bars.close, bars.volume)
        passes = [(time_only, time_rows, None), (values_only, None, parser)]
    for order, (checked, rows, drop) in enumerate(passes, start=10):
        violations = validate_bars(checked, limit=VALIDATION_LIMIT)
        if len(violations) >= VALIDATION_LIMIT:
            report.truncated()
        for violation in violations:
            row = int(violation.row if rows is None else rows[violation.row])
            column = layout.time if violation.column == "ts" else getattr(layout, violation.column) or "volume"
            if drop is not None and drop.bad_cells(column)[row]:
                continue
            if violation.column == "ts":
                shown = str(violation.value) if epoch else iso_text(int(violation.value))
            else:
                shown = repr(float(violation.value))
            file_row = row if origin is None else int(origin[row])
            report.rows(np.array([file_row]), order, column, violation.expected, _fixed(shown))


def _drop_invalid(bars: Bars, parser: ColumnParser) -> tuple[Bars, dict[str, int], npt.NDArray[np.intp] | None]:
    """``on_invalid="drop"``: rows with a non-positive price, then OHLC-inconsistent rows, then rows whose
    time repeats an earlier kept row's (the first is kept) are removed; the counts per rule (non-zero only).
    Rows with an unreadable cell are left for the checks to report."""
    readable = ~parser.bad
    prices = np.vstack([bars.open, bars.high, bars.low, bars.close])
    non_positive = readable & (prices <= 0).any(axis=0)
    low_ok = bars.low <= np.minimum(bars.open, bars.close)
    high_ok = bars.high >= np.maximum(bars.open, bars.close)
    inconsistent = readable & ~non_positive & ~(low_ok & high_ok)
    kept_rows = np.flatnonzero(readable & ~(non_positive | inconsistent))
    _, first = np.unique(bars.ts[kept_rows], return_index=True)
    duplicate = np.zeros(len(bars), dtype=bool)
    duplicate[kept_rows] = True
    duplicate[kept_rows[first]] = False
    counts = {"non_positive_price": int(non_positive.sum()), "ohlc_inconsistent": int(inconsistent.sum()),
              "duplicate_timestamp": int(duplicate.sum())}
    dropped = non_positive | inconsistent | duplicate
    if not dropped.any():
        return bars, {}, None
    keep = np.flatnonzero(~dropped)
    parser.keep_rows(keep)
    out = Bars(*(np.ascontiguousarray(getattr(bars, c)[keep]) for c in ("ts", "open", "high", "low", "close",
                                                                         "volume")), has_volume=bars.has_volume)
    return out, {rule: n for rule, n in counts.items() if n}, keep


def _parse(content: bytes, fmt: BarsFormat, options: ReadOptions, report: ProblemReport
           ) -> tuple[RawTable, Layout, tuple[Bars, ColumnParser] | None, dict[str, int], npt.NDArray[np.intp] | None]:
    """The file's table, its layout and its columns as Bars (with ``on_invalid="drop"`` the rows dropped),
    before the ``validate_bars`` rules; what cannot be read raises InputError, what cannot be converted is left
    in ``report``."""
    long_format = options.symbol_column is not None and options.symbol is not None
    wanted = WANTED | {options.symbol_column.strip().lower()} if options.symbol_column is not None else WANTED
    table = read_csv(content, report, VALUE_ROLES) if fmt == "csv" else read_parquet(content, report, wanted)
    if table is not None and long_format:
        assert options.symbol_column is not None and options.symbol is not None
        table = select_symbol(table, options.symbol_column, options.symbol, report)
    report.raise_if_any()
    assert table is not None
    layout = resolve_layout(table.names, report)
    report.raise_if_any()
    assert layout is not None
    converted = _convert(table, layout, options, report)
    dropped: dict[str, int] = {}
    origin = None
    if converted is not None and options.on_invalid == "drop":
        bars, dropped, origin = _drop_invalid(*converted)
        converted = (bars, converted[1])
    return table, layout, converted, dropped, origin


def load_bars(
    path: Path,
    fmt: BarsFormat | None = None,
    start: str | None = None,
    end: str | None = None,
    display_name: str | None = None,
    sha256: str | None = None,
    pinned_by: str = "data.sha256",
    options: ReadOptions = ReadOptions(),
    validated_sha256: str | None = None,
) -> LoadedBars:
    """Read, check and window one bars file (see the module docstring); every problem raises InputError.

    ``sha256`` pins the file's bytes: other bytes are an InputError naming both digests and ``pinned_by``.
    ``validated_sha256``: the digest of bytes that passed every check of this function already, read with the
    same ``options`` (a plan's data, when a shard reloads it): when the bytes read have that digest, the
    ``validate_bars`` rules are not applied to them again. The digest is still computed from the bytes read
    and checked against ``sha256``; what cannot be converted is still reported.
    """
    name = display_name if display_name is not None else str(path)
    start_ns, end_ns = _instant_ns("start", start, options.timezone), _instant_ns("end", end, options.timezone)
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise InputError(f"start: expected a time before end {end} (got {start})")
    content = _read_bytes(path, name)
    if fmt is None:
        fmt = infer_format(path, name)
    elif fmt not in get_args(BarsFormat):
        raise InputError(f"{name}: unknown format {quote(fmt)} (expected one of csv, parquet)")
    report = ProblemReport(name)
    with sha256_on_thread(content) as digest_of:  # the digest is computed while the bytes are parsed
        try:
            table, layout, converted, dropped, origin = _parse(content, fmt, options, report)
        except Exception:  # bytes that are not the pinned ones are reported as such first (never parsed before)
            check_sha256(name, digest_of(), sha256, pinned_by)
            raise
        digest = digest_of()
    check_sha256(name, digest, sha256, pinned_by)
    # The rules are a function of the bytes and the options only: bytes with the digest of bytes that passed
    # them (with the same options) pass them again, so they are skipped for those (~0.03 s per 1M bars).
    if converted is not None and digest != validated_sha256:
        epoch = options.time_unit is not None or layout.time_is_epoch_ns
        _validate(*converted, layout, epoch, report, origin)
    report.raise_if_any()
    assert converted is not None
    bars = converted[0]
    file_rows = table.n_rows
    del table, converted
    release_arrow_memory()
    if len(bars) == 0:
        raise InputError(f"{name}: no bars (the file has no data rows)")

    first = 0 if start_ns is None else int(np.searchsorted(bars.ts, start_ns, side="left"))
    stop = len(bars) if end_ns is None else int(np.searchsorted(bars.ts, end_ns, side="left"))
    if first >= stop:
        since = start if start is not None else "the start of the file"
        until = end if end is not None else "the end of the file"
        raise InputError(f"{name}: no bars between {since} and {until}")
    if first > 0 or stop < len(bars):
        bars = bars.slice(first, stop)
    return LoadedBars(bars=bars, sha256=digest, path=path, n_rows=len(bars), file_rows=file_rows, fmt=fmt,
                      dropped=dropped)
