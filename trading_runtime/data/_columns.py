"""Turns one column of a bars file (CSV text, or a typed Parquet column) into a numpy array.

Each conversion reports the cells it cannot convert to a ``ProblemReport`` and marks their rows
in ``ColumnParser.bad``; a column of an unusable type is reported as one file-level line and
gives ``None``. Converted values are exact: decimal text is parsed correctly rounded, times keep
nanoseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trading_runtime.data._problems import ProblemReport, RowIndex, quote

if TYPE_CHECKING:  # pandas is imported where CSV text is parsed: a Parquet file never loads it (start-up time)
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Column: TypeAlias = "pd.Series | pa.Array"
"""A CSV column is a pandas ``str`` Series (the raw cell text); a Parquet column an Arrow array."""

ISO_TIMESTAMP = "an ISO 8601 date or timestamp"
NS_RANGE = "a timestamp between 1677-09-22 and 2262-04-11"
EPOCH_NS = "integer epoch nanoseconds"
EPOCH_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
NUMBER = "a number"

_TEXT_NAN = ("nan", "+nan", "-nan")
_UTC_OFFSET = r":\d{2}(?:[.,]\d+)?\s*[+-]\d{2}(?::?\d{2})?$"  # a time, then +hh[:mm] / -hh[:mm]
_INTEGER = r"[+-]?\d{1,19}"
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_INT64_MAX = int(np.iinfo(np.int64).max)


def _null_got(_row: int) -> str:
    return "null"


def _text_got(text: pd.Series) -> Any:
    return lambda row: quote(text.iloc[row])


class ColumnParser:
    """Converts the columns of one table of ``n_rows`` rows; ``bad`` marks rows with a bad cell."""

    def __init__(self, report: ProblemReport, n_rows: int, skip: BoolArray | None = None) -> None:
        self.report = report
        self.n_rows = n_rows
        self.skip: BoolArray = np.zeros(n_rows, dtype=bool) if skip is None else skip
        self._bad_cells: dict[str, BoolArray] = {}

    def bad_cells(self, column: str) -> BoolArray:
        """Rows whose cell in ``column`` could not be read (or whose whole row was skipped)."""
        return self._bad_cells.get(column, self.skip)

    def keep_rows(self, rows: npt.NDArray[np.intp]) -> None:
        """Only ``rows`` remain (rows dropped with ``on_invalid="drop"``); row problems were reported already."""
        self.skip = self.skip[rows]
        self._bad_cells = {column: cells[rows] for column, cells in self._bad_cells.items()}
        self.n_rows = len(rows)

    @property
    def bad(self) -> BoolArray:
        """Rows with at least one cell that could not be read."""
        bad = self.skip.copy()
        for cells in self._bad_cells.values():
            bad |= cells
        return bad

    def _rows(self, rows: RowIndex, order: int, column: str, expected: str, got: Any) -> None:
        """Report bad cells, except on rows already reported whole (``skip``)."""
        self._bad_cells.setdefault(column, self.skip.copy())[rows] = True
        self.report.rows(rows[~self.skip[rows]], order, column, expected, got)

    # -- numbers --------------------------------------------------------------------------------

    def floats(self, column: str, order: int, source: Column) -> FloatArray | None:
        """Prices and volume: decimal text, or any Arrow integer/float/decimal type, as float64."""
        if not isinstance(source, pa.Array | pa.ChunkedArray):  # CSV text, a pandas Series
            if source.dtype.kind == "f":  # parsed by the CSV reader's fast path
                return np.array(source.to_numpy(dtype=np.float64))
            return self._floats_from_text(column, order, source)
        source = _decoded(source)
        kind = source.type
        if _is_text(kind):  # a typed file (Parquet) whose numbers are text: refused, as with any other type
            self.report.file(f"{column}: expected a column of numbers (got {kind}: store prices and volume as "
                             "numbers, not text)")
            return None
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            self.report.file(f"{column}: expected a column of numbers (got {kind})")
            return None
        as_float = source if pa.types.is_float64(kind) else _cast(source, pa.float64(), safe=False)
        values = np.array(_numbers(as_float), dtype=np.float64)
        nulls = np.flatnonzero(_nulls(source))
        values[nulls] = np.nan
        self._rows(nulls, order, column, NUMBER, _null_got)
        return values

    def _floats_from_text(self, column: str, order: int, text: pd.Series) -> FloatArray:
        import pandas as pd

        values = np.array(pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
        nan_rows = np.flatnonzero(np.isnan(values))
        if len(nan_rows):
            # 'nan' is a number (validate_bars reports it as not finite); other text that gave NaN is not
            spelled_nan = text.iloc[nan_rows].str.strip().str.lower().isin(_TEXT_NAN).to_numpy(dtype=bool)
            self._rows(nan_rows[~spelled_nan], order, column, NUMBER, _text_got(text))
        return values

    # -- time -----------------------------------------------------------------------------------

    def iso_timestamps(self, column: str, order: int, source: Column, timezone: str = "UTC") -> IntArray | None:
        """ISO 8601 text, or an Arrow timestamp: UTC epoch ns. Times without a zone are in ``timezone``."""
        if not isinstance(source, pa.Array | pa.ChunkedArray):
            return self._ns_from_iso_text(column, order, source, timezone)
        source = _decoded(source)
        kind = source.type
        if _is_text(kind):
            return self._ns_from_iso_text(column, order, _arrow_text(source), timezone)
        if pa.types.is_date(kind):
            source, kind = _cast(source, pa.timestamp("s")), pa.timestamp("s")
        if pa.types.is_timestamp(kind):
            missing = _nulls(source)
            ints = _numbers(_zero_filled(source.view(pa.int64())))  # the stored counts (copied by _scale_to_ns)
            ns, in_range = _scale_to_ns(ints, missing, kind.unit)
            self._rows(np.flatnonzero(missing), order, column, ISO_TIMESTAMP, _null_got)
            out = np.flatnonzero(~missing & ~in_range)
            self._rows(out, order, column, NS_RANGE, lambda row: iso_text(int(ints[row]), kind.unit))
            if kind.tz is None and timezone != "UTC":
                self._localize(column, order, ns, in_range, timezone)
            return ns
        self.report.file(f"{column}: expected ISO 8601 text or timestamps (got {kind})")
        return None

    def _localize(self, column: str, order: int, ns: IntArray, rows: BoolArray, timezone: str) -> None:
        """Wall-clock times in ``timezone`` (as epoch ns of the same wall clock in UTC) → UTC, in place."""
        import pandas as pd

        wall = pd.DatetimeIndex(ns[rows].view("datetime64[ns]"))
        local = wall.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        naive = np.asarray(local.tz_convert(None).to_numpy())
        utc = naive.view(np.int64)
        invalid = np.isnat(naive)
        where = np.flatnonzero(rows)
        ns[where[~invalid]] = utc[~invalid]
        texts = [iso_text(int(v)).removesuffix("Z") for v in ns[where[invalid]]]
        shown = dict(zip(where[invalid].tolist(), texts, strict=True))
        self._rows(where[invalid], order, column, f"a time that exists once in {timezone} (daylight saving)",
                   lambda row: shown[row])

    def _ns_from_iso_text(self, column: str, order: int, text: pd.Series, timezone: str) -> IntArray:
        import pandas as pd

        stripped = text.str.strip()
        zoned = np.array(stripped.str.endswith(("Z", "z"), na=False).to_numpy(dtype=bool))
        if not zoned.all():
            zoned |= stripped.str.contains(_UTC_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
        parsed = pd.to_datetime(stripped, utc=True, format="ISO8601", errors="coerce")
        raw = parsed.dt.tz_convert(None).to_numpy()
        missing = np.isnat(raw)
        ns, in_range = _scale_to_ns(raw.view(np.int64), missing, np.datetime_data(raw.dtype)[0])
        got = _text_got(text)
        self._rows(np.flatnonzero(missing), order, column, ISO_TIMESTAMP, got)
        self._rows(np.flatnonzero(~missing & ~in_range), order, column, NS_RANGE, got)
        if timezone != "UTC" and not zoned.all():
            self._localize(column, order, ns, in_range & ~zoned, timezone)
        return ns

    def epoch(self, column: str, order: int, source: Column, unit: str = "ns") -> IntArray | None:
        """Integer epoch times in ``unit`` (s, ms, us, ns): integer text, or any Arrow integer type; as ns."""
        expected = f"integer epoch {EPOCH_NAMES[unit]}"
        if not isinstance(source, pa.Array | pa.ChunkedArray):
            ints, bad = self._ints_from_text(column, order, source, expected)
        else:
            source = _decoded(source)
            kind = source.type
            if _is_text(kind):
                ints, bad = self._ints_from_text(column, order, _arrow_text(source), expected)
            elif not pa.types.is_integer(kind):
                self.report.file(f"{column}: expected {expected} (got {kind})")
                return None
            else:
                missing = _nulls(source)
                raw = _numbers(_zero_filled(source))
                too_big = raw > _INT64_MAX if raw.dtype == np.uint64 else np.zeros(len(raw), dtype=bool)
                ints = np.where(too_big, 0, raw).astype(np.int64, copy=False)
                self._rows(np.flatnonzero(missing), order, column, expected, _null_got)
                self._rows(np.flatnonzero(too_big), order, column, expected, lambda row: str(raw[row]))
                bad = missing | too_big
        if unit == "ns":
            return ints
        ns, in_range = _scale_to_ns(ints, bad, unit)
        self._rows(np.flatnonzero(~bad & ~in_range), order, column, NS_RANGE, lambda row: str(ints[row]))
        return ns

    def _ints_from_text(self, column: str, order: int, text: pd.Series, expected: str) -> tuple[IntArray, BoolArray]:
        stripped = text.str.strip()
        ok = np.array(stripped.str.fullmatch(_INTEGER, na=False).to_numpy(dtype=bool))
        rows = np.flatnonzero(ok)
        ints = [int(v) for v in stripped.iloc[rows].tolist()]
        fits = np.fromiter((-_INT64_MAX <= v <= _INT64_MAX for v in ints), dtype=bool, count=len(ints))
        ns = np.zeros(len(text), dtype=np.int64)
        ns[rows[fits]] = [v for v, f in zip(ints, fits.tolist(), strict=True) if f]
        ok[rows[~fits]] = False
        self._rows(np.flatnonzero(~ok), order, column, expected, _text_got(text))
        return ns, ~ok


def iso_text(value: int, unit: str = "ns") -> str:
    """Epoch ``value`` in ``unit`` as ISO 8601 UTC text with Z, sub-second digits only when non-zero."""
    text = str(np.datetime_as_string(np.array([value], dtype=f"datetime64[{unit}]"))[0])
    date_time, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    return f"{date_time}.{fraction}Z" if fraction else f"{date_time}Z"


def _scale_to_ns(ints: IntArray, missing: BoolArray, unit: str) -> tuple[IntArray, BoolArray]:
    """Counts of ``unit`` since the epoch as nanoseconds; rows that do not fit int64 ns are not in range (0)."""
    factor = _NS_PER_UNIT[unit]
    limit = _INT64_MAX // factor
    in_range = ~missing & (ints >= -limit) & (ints <= limit)
    ns = np.array(ints, dtype=np.int64)  # one copy, scaled in place (no temporaries the size of the column)
    ns[~in_range] = 0
    if factor != 1:
        ns *= factor
    return ns, in_range


def _cast(source: pa.Array, target: pa.DataType, safe: bool = True) -> pa.Array:
    """Arrow's cast, for the types that need one: pyarrow.compute (~50 ms to import) is loaded only then."""
    import pyarrow.compute as pc

    return pc.cast(source, target, safe=safe)


def _nulls(source: pa.Array) -> BoolArray:
    """Which rows of ``source`` are null."""
    if source.null_count == 0:
        return np.zeros(len(source), dtype=bool)
    return np.asarray(source.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(source: pa.Array) -> npt.NDArray[Any]:
    """The values of an integer or float Arrow array as numpy (a read-only view when it has no nulls).

    Same values as ``to_numpy(zero_copy_only=False)``, which imports pandas (~0.2 s of a pod's start-up).
    """
    kind = source.type
    if source.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        code = "f" if pa.types.is_floating(kind) else "u" if pa.types.is_unsigned_integer(kind) else "i"
        width = kind.bit_width // 8
        dtype = np.dtype(f"<{code}{width}")
        return np.frombuffer(source.buffers()[1], dtype=dtype, count=len(source), offset=source.offset * width)
    return np.asarray(source.to_numpy(zero_copy_only=False))


def _zero_filled(source: pa.Array) -> pa.Array:
    """``source`` with nulls as 0 (``fill_null`` builds a scalar, which imports pandas: only when needed)."""
    return source if source.null_count == 0 else source.fill_null(0)


def _decoded(source: pa.Array) -> pa.Array:
    if isinstance(source, pa.ChunkedArray):
        source = source.combine_chunks()
    if pa.types.is_dictionary(source.type):
        source = source.dictionary_decode()
    return source


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def _arrow_text(source: pa.Array) -> pd.Series:
    import pandas as pd

    return pd.Series(source.to_pandas(), dtype="str").reset_index(drop=True)
