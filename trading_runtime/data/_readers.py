"""Bytes of a CSV or Parquet file → named raw columns, or file-level problems (never an exception)."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pyarrow._parquet import ParquetReader

from trading_runtime.data._columns import BoolArray, Column
from trading_runtime.data._problems import ProblemReport

if TYPE_CHECKING:  # pandas is imported by the CSV reader only: a Parquet file never loads it (start-up time)
    import pandas as pd

MAX_REASON_CHARS = 160


@dataclass(frozen=True)
class RawTable:
    """The columns of a file, by name, as read: CSV cells as text, Parquet columns typed."""

    names: tuple[str, ...]
    columns: Mapping[str, Column]
    n_rows: int
    empty_rows: BoolArray | None = None  # CSV rows whose every cell is blank (e.g. blank lines)


def _short(error: BaseException) -> str:
    """The first line of an error message, without pandas' tokenizer prefix, lower-cased first letter."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else type(error).__name__
    for prefix in ("Error tokenizing data. C error: ",):
        text = text.removeprefix(prefix)
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]  # "EOF ..." keeps its capitals


def read_csv(content: bytes, report: ProblemReport, numeric: tuple[str, ...] = ()) -> RawTable | None:
    """UTF-8 CSV (gzip-compressed when it starts with the gzip magic bytes), header on the first line.

    Fast path: the ``numeric`` columns (lower-case names, matched case-insensitively) are parsed
    as float64 by pandas' C parser and the others kept
    as text. When that fails (a cell that is not a number, a blank line, ...) every cell is read as
    text (``str`` Series) so that each bad cell can be reported with its row; blank lines are kept
    as rows, so that data row ``r`` is line ``r + 1``.
    """
    import pandas as pd

    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as error:
            report.file(f"cannot read CSV: corrupt gzip data ({_short(error)})")
            return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        report.file(f"cannot read CSV: not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start})")
        return None
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        report.file(f"cannot read CSV: binary data (NUL byte at offset {nul})")
        return None
    if not text.strip():
        report.file("cannot read CSV: the file is empty")
        return None
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if not first_line.strip():
        report.file("cannot read CSV: the first line is empty (expected the header)")
        return None
    try:
        header = next(csv.reader([first_line]), [])
    except csv.Error as error:
        report.file(f"cannot read CSV: {_short(error)}")
        return None
    names = tuple(name.strip() for name in header)
    keys = [name.lower() for name in names]
    frame: pd.DataFrame | None = None
    if len(set(header)) == len(header) and all(keys.count(n) <= 1 for n in numeric):
        dtypes = {label: "float64" if key in numeric else "str" for label, key in zip(header, keys, strict=True)}
        try:
            frame = _read_frame(text, dtypes)
        except ValueError:  # a cell is not a number, or the file is malformed: the text pass says which
            frame = None
    typed = frame is not None
    if frame is None:
        try:
            frame = _read_frame(text, "str")
        except ValueError as error:  # pandas' ParserError and EmptyDataError are ValueErrors
            report.file(f"cannot read CSV: {_short(error)}")
            return None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns a first data line with one field too many into an index instead of failing
        report.file(f"cannot read CSV: expected {len(header)} fields in line 2, saw {len(header) + 1}")
        return None
    if len(names) != len(frame.columns):
        report.file(f"cannot read CSV: the header has {len(names)} fields but pandas read {len(frame.columns)}")
        return None
    # typed reading succeeded only if every number cell parsed: no empty rows then
    empty_rows = None if typed else _empty_rows(frame)
    columns: dict[str, Column] = {}
    for name, label in zip(names, frame.columns, strict=True):
        columns.setdefault(name, frame[label].reset_index(drop=True))
    return RawTable(names, columns, len(frame), empty_rows)


def _read_frame(text: str, dtype: str | dict[str, str]) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(io.StringIO(text), dtype=dtype, na_filter=False, skip_blank_lines=False, engine="c")


def _empty_rows(frame: pd.DataFrame) -> BoolArray:
    empty = np.array(frame.iloc[:, 0].str.strip().eq("").to_numpy(dtype=bool))
    for label in frame.columns[1:]:
        rows = np.flatnonzero(empty)
        if not len(rows):
            break
        empty[rows] = frame[label].iloc[rows].str.strip().eq("").to_numpy(dtype=bool)
    return empty


def release_arrow_memory() -> None:
    """Return the memory Arrow's allocator keeps after the file's columns are dropped (~110 MB after a
    1M-row file, which would otherwise stay in the process's resident set for its whole life)."""
    pa.default_memory_pool().release_unused()


def read_parquet(content: bytes, report: ProblemReport, wanted: frozenset[str]) -> RawTable | None:
    """A Parquet file; only the columns whose stripped, lower-cased name is in ``wanted`` are read, each one
    when it is converted (:class:`ParquetColumns`): the Arrow copy of one column at a time, not of the table."""
    try:
        parquet = open_parquet(content)
        names = tuple(parquet.schema_arrow.names)
        present = [name for name in names if name.strip().lower() in wanted and names.count(name) == 1]
        columns = ParquetColumns(parquet, present, report)
        n_rows = parquet.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as error:
        report.file(f"cannot read Parquet: {_short(error)}")
        return None
    for name, values in _range_indexes(parquet.schema_arrow, n_rows, wanted):
        if name not in names:
            names = (*names, name)
            columns.extra[name] = values
    return RawTable(names, columns, n_rows)


def open_parquet(content: bytes) -> ParquetReader:
    """Arrow's Parquet reader over the file's bytes, opened as ``pyarrow.parquet.ParquetFile`` opens it (its
    defaults: no memory map, pre-buffering). The reader itself, not ``pyarrow.parquet``: that module imports
    ``pyarrow.fs`` (and with it the S3/GCS/HDFS filesystems, ``ssl``), which bytes in memory never need
    (start-up of every process that reads bars)."""
    reader = ParquetReader()
    reader.open(pa.BufferReader(content))
    return reader


def column_indices(parquet: ParquetReader, name: str) -> list[int]:
    """The leaf columns of top-level column ``name`` (``ParquetFile.read(columns=[name])``'s selection)."""
    return [i for i, path in enumerate(parquet.column_paths) if path[0] == name]


class ParquetColumns(Mapping[str, Column]):
    """The wanted columns of a Parquet file by name, each read when asked for (and not kept): the loader
    converts one column to numpy and drops its Arrow array before the next is read. A column that cannot
    be decoded is reported as the file's problem, ``cannot read Parquet: {reason}`` (InputError)."""

    def __init__(self, parquet: ParquetReader, present: list[str], report: ProblemReport) -> None:
        self._parquet = parquet
        self._present = present
        self._report = report
        self.extra: dict[str, pa.Array] = {}  # columns pandas kept only in its metadata

    def __getitem__(self, name: str) -> pa.Array:
        if name in self.extra:
            return self.extra[name]
        if name not in self._present:
            raise KeyError(name)
        try:
            # No Arrow thread pool: its threads, still alive at interpreter exit, can abort the process (exit 134).
            chunked = self._parquet.read_all(column_indices=column_indices(self._parquet, name),
                                             use_threads=False).column(0)
        except (pa.ArrowException, OSError, ValueError) as error:
            self._report.file(f"cannot read Parquet: {_short(error)}")
            self._report.raise_if_any()
            raise  # not reached: the report holds a problem now
        release_arrow_memory()  # what decoding used beyond the column itself
        return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()

    def __iter__(self) -> Iterator[str]:
        return iter([*self._present, *self.extra])

    def __len__(self) -> int:
        return len(self._present) + len(self.extra)


def _range_indexes(schema: pa.Schema, n_rows: int, wanted: frozenset[str]) -> list[tuple[str, pa.Array]]:
    """Evenly spaced integer indexes pandas kept only in its metadata (``to_parquet`` of an index of epoch
    numbers such as ``time`` = 0, 60000, ...), as columns, when their name is ``wanted``."""
    try:
        indexes = (schema.pandas_metadata or {}).get("index_columns", [])
    except (ValueError, TypeError):  # metadata that is not pandas' JSON: no index to recover
        return []
    found = []
    for index in indexes:
        if not isinstance(index, dict) or index.get("kind") != "range" or not isinstance(index.get("name"), str):
            continue
        bounds = [v for v in (index.get(k) for k in ("start", "stop", "step")) if type(v) is int]
        if index["name"].strip().lower() not in wanted or len(bounds) != 3 or not bounds[2]:
            continue
        values = range(*bounds)
        if len(values) == n_rows:
            found.append((index["name"], pa.array(values, pa.int64())))
    return found
