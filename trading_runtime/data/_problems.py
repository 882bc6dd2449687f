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
        shown = self._file[:MAX_LINES]
        budget = MAX_LINES - len(shown)
        candidates = sorted(
            ((int(r), p.order, i) for i, p in enumerate(self._rows) for r in p.rows[:budget]),
        )[:budget]
        for r, _, i in candidates:
            p = self._rows[i]
            where = f"row {r + 1}: {p.column}:" if p.column else f"row {r + 1}:"
            shown.append(f"{self.name}: {where} expected {p.expected} (got {p.got(r)})")
        total = len(self._file) + sum(len(p.rows) for p in self._rows)
        rest = total - len(shown)
        if rest > 0 or self._more_unknown:
            at_least = "at least " if self._more_unknown else ""
            shown.append(f"{self.name}: ... and {at_least}{rest} more problem{'' if rest == 1 else 's'}")
        return shown

    def raise_if_any(self) -> None:
        if self:
            raise InputError(*self.lines())
