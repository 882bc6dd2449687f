"""Bar timeframes ("1m", "5m", "1h", "1d", "1w") and annualisation."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdw])$")
SECONDS_PER_YEAR = 365 * 86400


def timeframe_seconds(timeframe: str) -> int:
    """Seconds per bar of a timeframe such as ``1m`` or ``4h``; ValueError when malformed."""
    m = _PATTERN.match(timeframe)
    if m is None:
        raise ValueError(f"timeframe {timeframe!r}: expected a number and a unit s, m, h, d or w (e.g. 1m, 4h)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def bars_per_year(seconds_per_bar: int) -> float:
    """Bars in 365 days: the annualisation factor's square is this."""
    return SECONDS_PER_YEAR / seconds_per_bar
