"""Collects what is wrong with a bars file and renders it as InputError lines, one per problem."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trading_runtime.errors import InputError

MAX_LINES = 20
"""Problem lines shown before '... and N more problems'."""
ROWS_SHOWN = 3
"""Rows shown (with their values) of a problem found on many rows."""
MAX_VALUE_CHARS = 60
"""Longer offending text is cut to this many characters (with '...') in a message."""

RowIndex = npt.NDArray[np.intp]


def quote(value: object) -> str:
    """Offending raw text as a one-line JSON string (``"abc"``); a missing value as ``null``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return json.dumps(text)


@dataclass(frozen=True)
class _RowProblems:
    rows: RowIndex  # 0-based data rows, ascending
    order: int  # tie-break between problems of one row
    column: str
    expected: str
    got: Callable[[int], str]  # renders the offending value of a 0-based row


class ProblemReport:
    """Problems of one file: file-level lines first, then row problems in (row, order) order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._file: list[str] = []
        self._rows: list[_RowProblems] = []
        self._more_unknown = False

    def __bool__(self) -> bool:
        return bool(self._file or self._rows)

    def file(self, text: str) -> None:
        """A problem of the whole file or of a whole column: ``{name}: {text}``."""
        self._file.append(f"{self.name}: {text}")

    def rows(self, rows: RowIndex, order: int, column: str, expected: str, got: Callable[[int], str]) -> None:
        """The same problem on several rows: ``{name}: row {r}: {column}: expected {expected} (got {got(r)})``.

        An empty ``column`` is for a problem of the whole row: ``{name}: row {r}: expected ...``.
        """
        if len(rows):
            self._rows.append(_RowProblems(np.asarray(rows, dtype=np.intp), order, column, expected, got))

    def truncated(self) -> None:
        """Some problems were not collected (a checker hit its limit): the count becomes 'at least'."""
        self._more_unknown = True

    def lines(self) -> list[str]:
        """File-level lines, then one line per problem (the same column and expectation on any number of
        rows is one line: the row count and the first ROWS_SHOWN rows with their values), in the order of
        each problem's first row; at most MAX_LINES, then ``... and N more problems``."""
        groups: dict[tuple[int, str, str], list[tuple[int, Callable[[int], str]]]] = {}
        counts: dict[tuple[int, str, str], int] = {}
        for p in self._rows:
            key = (p.order, p.column, p.expected)
            counts[key] = counts.get(key, 0) + len(p.rows)
            first = groups.setdefault(key, [])
            first.extend((int(r), p.got) for r in p.rows[:ROWS_SHOWN])
            if len(first) > ROWS_SHOWN:
                first.sort(key=lambda item: item[0])
                del first[ROWS_SHOWN:]
        arrival = {key: i for i, key in enumerate(groups)}
        problems = sorted(((min(r for r, _ in rows), key[0], arrival[key], key) for key, rows in groups.items()))
        lines = list(self._file)
        for *_, key in problems:
            _, column, expected = key
            rows = sorted(groups[key], key=lambda item: item[0])
            where = f"{column}: " if column else ""
            if counts[key] == 1:
                r, got = rows[0]
                lines.append(f"{self.name}: row {r + 1}: {where}expected {expected} (got {got(r)})")
            else:
                shown = ", ".join(f"row {r + 1}: {got(r)}" for r, got in rows)
                more = ", ..." if counts[key] > len(rows) else ""
                lines.append(f"{self.name}: {counts[key]:,} rows: {where}expected {expected} (got {shown}{more})")
        shown_lines = lines[:MAX_LINES]
        rest = len(lines) - len(shown_lines)
        if rest > 0 or self._more_unknown:
            at_least = "at least " if self._more_unknown else ""
            shown_lines.append(f"{self.name}: ... and {at_least}{rest} more problem{'' if rest == 1 else 's'}")
        return shown_lines

    def raise_if_any(self) -> None:
        if self:
            raise InputError(*self.lines())
