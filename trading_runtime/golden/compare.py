"""Tolerant comparison of result documents with golden ones, difference by JSON path.

Tolerances are declared per kind of value (STYLE.md): counts, flags, ids and text exact; money
(equity, prices, pnl, fees, units) 1e-9 absolute; every other float (ratios) 1e-12 relative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

MONEY_KEYS = frozenset({
    "final_equity", "fees_paid", "pnl", "fees", "entry_price", "exit_price", "initial_cash", "equity",
    "units", "open", "high", "low", "close",
})
MONEY_ABS = 1e-9
RATIO_REL = 1e-12


@dataclass(frozen=True)
class Tolerance:
    kind: Literal["exact", "abs", "rel"]
    value: float = 0.0

    def __str__(self) -> str:
        return "exact" if self.kind == "exact" else f"{self.kind} {self.value:g}"


def tolerance_for(key: str | None) -> Tolerance:
    """The declared tolerance of a float under ``key`` (the last object key on its path)."""
    if key in MONEY_KEYS:
        return Tolerance("abs", MONEY_ABS)
    return Tolerance("rel", RATIO_REL)


@dataclass(frozen=True)
class Difference:
    path: str
    expected: Any
    actual: Any
    why: str

    def line(self, source: str) -> str:
        return f"{source}: {self.path}: expected {_show(self.expected)}, got {_show(self.actual)} ({self.why})"


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    return repr(v) if not isinstance(v, str) else f'"{v}"'


def _floats_close(e: float, a: float, tol: Tolerance) -> bool:
    if math.isnan(e) or math.isnan(a):
        return math.isnan(e) and math.isnan(a)
    if tol.kind == "abs":
        return abs(e - a) <= tol.value
    if tol.kind == "rel":
        return abs(e - a) <= tol.value * max(abs(e), abs(a))
    return e == a


def compare(expected: Any, actual: Any, path: str = "", key: str | None = None) -> list[Difference]:
    """Every difference between two JSON-like documents (objects, lists, numbers, text, null)."""
    here = path or "(top level)"
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs: list[Difference] = []
        for k in sorted(set(expected) | set(actual)):
            sub = f"{path}.{k}" if path else k
            if k not in actual:
                diffs.append(Difference(sub, expected[k], None, "missing"))
            elif k not in expected:
                diffs.append(Difference(sub, None, actual[k], "unexpected key"))
            else:
                diffs.extend(compare(expected[k], actual[k], sub, k))
        return diffs
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [Difference(here, expected, actual, f"length {len(expected)} != {len(actual)}")]
        out: list[Difference] = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(compare(e, a, f"{path}[{i}]", key))
        return out
    e_num = isinstance(expected, int | float) and not isinstance(expected, bool)
    a_num = isinstance(actual, int | float) and not isinstance(actual, bool)
    if e_num and a_num and (isinstance(expected, float) or isinstance(actual, float)):
        tol = tolerance_for(key)
        if _floats_close(float(expected), float(actual), tol):
            return []
        return [Difference(here, expected, actual, f"tolerance {tol}")]
    if type(expected) is not type(actual) or expected != actual:
        return [Difference(here, expected, actual, "exact")]
    return []
