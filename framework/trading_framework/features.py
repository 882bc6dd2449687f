"""Indicators shared between strategies through a per-bars cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
from numba import njit

from trading_framework.bars import Bars, FloatArray, MissingFieldError


@njit(cache=True)
def _rolling_mean(x: FloatArray, window: int) -> FloatArray:  # pragma: no cover - compiled
    """Mean of the last ``window`` values, from a compensated (double-double) running sum.

    Each add and subtract is an error-free TwoSum, the rounding errors are kept in ``comp``, so the
    window sum is the exact sum rounded once: the same value as ``math.fsum`` of the window in
    all but vanishingly rare cases. Exact ties (fast SMA == slow SMA on prices on a tick grid) so
    compare equal instead of being decided by accumulated rounding noise.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    s = 0.0
    comp = 0.0
    for i in range(n):
        v = x[i]
        t = s + v
        bp = t - s
        comp += (s - (t - bp)) + (v - bp)
        s = t
        if i >= window:
            v = -x[i - window]
            t = s + v
            bp = t - s
            comp += (s - (t - bp)) + (v - bp)
            s = t
        if i >= window - 1:
            out[i] = (s + comp) / window
    return out


@njit(cache=True)
def _rolling_extreme(x: FloatArray, window: int, is_max: bool) -> FloatArray:  # pragma: no cover
    # Monotonic deque: O(n) rolling max/min over the last ``window`` values including i.
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, np.int64)
    head = 0
    tail = 0
    for i in range(n):
        v = x[i]
        while tail > head and ((x[dq[tail - 1]] <= v) if is_max else (x[dq[tail - 1]] >= v)):
            tail -= 1
        dq[tail] = i
        tail += 1
        if dq[head] <= i - window:
            head += 1
        if i >= window - 1:
            out[i] = x[dq[head]]
    return out


@njit(cache=True)
def _rsi_wilder(close: FloatArray, window: int) -> FloatArray:  # pragma: no cover - compiled
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, window + 1):
        d = close[i] - close[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= window
    loss /= window
    out[window] = 100.0 if loss == 0.0 else 100.0 - 100.0 / (1.0 + gain / loss)
    for i in range(window + 1, n):
        d = close[i] - close[i - 1]
        g = d if d > 0 else 0.0
        lo = -d if d < 0 else 0.0
        gain = (gain * (window - 1) + g) / window
        loss = (loss * (window - 1) + lo) / window
        out[i] = 100.0 if loss == 0.0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


class FeatureCache:
    """Memoises indicator arrays computed from one ``Bars``.

    A sweep creates one cache per shard (per data window), so SMA(close, 20) is computed once and
    read by every run that asks for it. Returned arrays are read-only.

    ``max_arrays`` bounds what the cache holds: past it, the least recently used array is dropped (and
    computed again if asked for again: the same values, as every indicator here is a pure function of
    the bars). None keeps every array.
    """

    def __init__(self, bars: Bars, max_arrays: int | None = None) -> None:
        if max_arrays is not None and max_arrays < 1:
            raise ValueError(f"max_arrays must be at least 1 (got {max_arrays})")
        self.bars = bars
        self.max_arrays = max_arrays
        self._values: OrderedDict[Hashable, FloatArray] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def held(self) -> tuple[Hashable, ...]:
        """The keys held now, least recently used first."""
        return tuple(self._values)

    def get(self, key: Hashable, compute: Callable[[], FloatArray]) -> FloatArray:
        """The cached array for ``key``, computing it with ``compute()`` on first use."""
        value = self._values.get(key)
        if value is None:
            self.misses += 1
            value = np.asarray(compute(), dtype=np.float64)
            value.setflags(write=False)
            if self.max_arrays is not None:
                while len(self._values) >= self.max_arrays:
                    self._values.popitem(last=False)
                    self.evictions += 1
            self._values[key] = value
        else:
            self.hits += 1
            self._values.move_to_end(key)
        return value

    def column(self, field: str) -> FloatArray:
        if field not in ("open", "high", "low", "close", "volume"):
            raise ValueError(f"unknown bars field {field!r}")
        if field == "volume" and not self.bars.has_volume:
            raise MissingFieldError("the strategy needs volume but the bars have none (the data file has no "
                                    "volume column)")
        arr: FloatArray = getattr(self.bars, field)
        return arr

    def sma(self, window: int, field: str = "close") -> FloatArray:
        """Simple moving average over the last ``window`` bars including the current one (NaN before)."""
        return self.get(("sma", field, window), lambda: _rolling_mean(self.column(field), window))

    def rolling_max(self, window: int, field: str = "high") -> FloatArray:
        return self.get(("max", field, window), lambda: _rolling_extreme(self.column(field), window, True))

    def rolling_min(self, window: int, field: str = "low") -> FloatArray:
        return self.get(("min", field, window), lambda: _rolling_extreme(self.column(field), window, False))

    def rsi(self, window: int) -> FloatArray:
        """Wilder's RSI of close (NaN for the first ``window`` bars)."""
        return self.get(("rsi", window), lambda: _rsi_wilder(self.bars.close, window))
