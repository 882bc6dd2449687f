"""Long-format bars files: one file, a column naming each row's instrument (``data.symbol_column``).

``select_symbol`` keeps the rows of one instrument of a raw table (before the columns are converted,
so every later rule applies to that instrument's rows alone: rows in messages are counted among
them); ``distinct_symbols`` lists the instruments a file holds, sorted. A symbol names a result
folder, a run id and a store key: the config's ``SYMBOL`` rule is checked where the universe is resolved.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trading_runtime.data._problems import ProblemReport
from trading_runtime.data._readers import RawTable, read_csv, read_parquet


def find_column(table: RawTable, column: str, report: ProblemReport) -> str | None:
    """The file's own name of ``column`` (case-insensitive, spaces stripped); a problem when it has none."""
    wanted = column.strip().lower()
    matches = [name for name in table.names if name.strip().lower() == wanted]
    if len(matches) != 1:
        found = ", ".join(table.names) or "none"
        what = "no" if not matches else f"{len(matches)} columns named"
        report.file(f"data.symbol_column: {what} column {column!r} (found {found})")
        return None
    return matches[0]


def _texts(values: object) -> list[str]:
    """A column's cells as stripped text (CSV: pandas text; Parquet: an Arrow array of any type)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        import pyarrow.compute as pc  # ~50 ms to import: only a long-format file needs it

        return ["" if v is None else str(v).strip() for v in pc.cast(values, pa.string()).to_pylist()]
    return [str(v).strip() for v in values]  # type: ignore[attr-defined]


def select_symbol(table: RawTable, column: str, symbol: str, report: ProblemReport) -> RawTable | None:
    """The rows of ``table`` whose ``column`` is ``symbol``; a problem when there are none."""
    name = find_column(table, column, report)
    if name is None:
        return None
    keep = np.array([text == symbol for text in _texts(table.columns[name])], dtype=bool)
    if not keep.any():
        report.file(f"data.symbol: no rows with {name} = {symbol!r}")
        return None
    rows = np.flatnonzero(keep)
    columns = {}
    for key, values in table.columns.items():
        if isinstance(values, pa.Array | pa.ChunkedArray):
            columns[key] = values.take(pa.array(rows))
        else:
            columns[key] = values.iloc[rows].reset_index(drop=True)
    empty = None if table.empty_rows is None else table.empty_rows[rows]
    return RawTable(table.names, columns, len(rows), empty)


def distinct_symbols(content: bytes, fmt: str, column: str, name: str) -> list[str]:
    """The sorted distinct values of ``column`` in a long-format file; InputError naming ``name`` when the
    file cannot be read or has no such column."""
    report = ProblemReport(name)
    wanted = frozenset({column.strip().lower()})
    table = read_csv(content, report) if fmt == "csv" else read_parquet(content, report, wanted)
    report.raise_if_any()
    assert table is not None
    found = find_column(table, column, report)
    report.raise_if_any()
    assert found is not None
    return sorted(set(_texts(table.columns[found])))
