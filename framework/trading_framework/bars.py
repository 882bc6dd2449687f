"""Columnar OHLCV bars and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("ts", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars: ``ts`` int64 UTC nanoseconds, prices and volume float64, all of one length.

    ``has_volume`` is False when the data had no volume (FX, indices): ``volume`` is then zeros and
    ``FeatureCache.column("volume")`` raises ``MissingFieldError`` instead of handing them out.
    """

    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    has_volume: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in COLUMNS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1:
                raise TypeError(f"Bars.{name} must be a 1-D numpy array")
            if len(arr) != n:
                raise ValueError(f"Bars.{name} has {len(arr)} rows, expected {n}")
        if self.ts.dtype != np.int64:
            raise TypeError(f"Bars.ts must be int64, got {self.ts.dtype}")
        for name in COLUMNS[1:]:
            if getattr(self, name).dtype != np.float64:
                raise TypeError(f"Bars.{name} must be float64, got {getattr(self, name).dtype}")

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int) -> Bars:
        """Rows ``start:stop`` (views, no copy)."""
        return Bars(*(getattr(self, c)[start:stop] for c in COLUMNS), has_volume=self.has_volume)


class MissingFieldError(ValueError):
    """A strategy asked for a bars field the data does not have (``volume`` of a file without one)."""


@dataclass(frozen=True)
class BarsViolation:
    """One row that breaks a bars rule; ``row`` is the 0-based position in the arrays."""

    row: int
    column: str
    value: float | int
    expected: str


def validate_bars(bars: Bars, limit: int = 1000) -> list[BarsViolation]:
    """Every violation of the bars rules, in row order then rule order (at most ``limit``)."""
    found: list[tuple[int, int, BarsViolation]] = []

    def add(rule: int, rows: npt.NDArray[np.intp], column: str, values: npt.NDArray[Any], expected: str) -> None:
        for r in rows[:limit]:
            v = values[r]
            found.append((int(r), rule, BarsViolation(int(r), column, v.item(), expected)))

    ts = bars.ts
    if len(ts) > 1:
        d = np.diff(ts)
        rows = np.flatnonzero(d == 0) + 1
        add(0, rows, "ts", ts, "strictly increasing timestamps (duplicate of the previous row)")
        rows = np.flatnonzero(d < 0) + 1
        add(0, rows, "ts", ts, "strictly increasing timestamps (earlier than the previous row)")
    for i, name in enumerate(PRICE_COLUMNS):
        col = getattr(bars, name)
        rows = np.flatnonzero(~np.isfinite(col))
        add(1 + i, rows, name, col, "a finite price")
        with np.errstate(invalid="ignore"):
            rows = np.flatnonzero(np.isfinite(col) & (col <= 0))
        add(1 + i, rows, name, col, "a price > 0")
    vol = bars.volume
    rows = np.flatnonzero(~np.isfinite(vol))
    add(5, rows, "volume", vol, "a finite volume")
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(np.isfinite(vol) & (vol < 0))
        add(5, rows, "volume", vol, "volume >= 0")
        rows = np.flatnonzero(bars.high < bars.low)
        add(6, rows, "high", bars.high, "high >= low")
        rows = np.flatnonzero((bars.high >= bars.low) & (bars.high < np.maximum(bars.open, bars.close)))
        add(7, rows, "high", bars.high, "high >= max(open, close)")
        rows = np.flatnonzero((bars.high >= bars.low) & (bars.low > np.minimum(bars.open, bars.close)))
        add(8, rows, "low", bars.low, "low <= min(open, close)")
    found.sort(key=lambda item: (item[0], item[1]))
    return [v for _, _, v in found[:limit]]
