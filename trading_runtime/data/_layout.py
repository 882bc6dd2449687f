"""Which column of a bars file is the time, open, high, low, close and volume (names as people export them).

Names are matched case-insensitively after stripping spaces. The time column is the one named
``timestamp``, ``datetime``, ``date``, ``time`` or ``ts``, or an unnamed first column (what
``DataFrame.to_csv()`` writes for an unnamed index; ``__index_level_0__`` in Parquet, what
``DataFrame.to_parquet()`` writes for it). ``volume`` is optional; any other column is ignored.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from trading_runtime.data._problems import ProblemReport

PRICE_ROLES = ("open", "high", "low", "close")
VOLUME = "volume"
VALUE_ROLES = (*PRICE_ROLES, VOLUME)
TIME_ALIASES = ("timestamp", "datetime", "date", "time", "ts")
EPOCH_NS_NAME = "ts"
"""The one time column name read as integer epoch nanoseconds when ``data.time_unit`` is not set."""
PARQUET_INDEX = "__index_level_0__"
UNNAMED = ("", "unnamed: 0", PARQUET_INDEX)
WANTED = frozenset((*VALUE_ROLES, *TIME_ALIASES, *UNNAMED))
"""Lower-cased names worth reading from a Parquet file (the others are never decoded)."""
EXPECTED = "a time column (timestamp, datetime, date, time, ts or an unnamed first column), open, high, low, close"


@dataclass(frozen=True)
class Layout:
    """The file's own column names for each role; ``volume`` is None when the file has none."""

    time: str
    open: str
    high: str
    low: str
    close: str
    volume: str | None

    @property
    def time_is_epoch_ns(self) -> bool:
        return self.time.strip().lower() == EPOCH_NS_NAME

    def value_columns(self) -> tuple[tuple[str, str | None], ...]:
        """(role, file column) for open, high, low, close, volume."""
        return (("open", self.open), ("high", self.high), ("low", self.low), ("close", self.close),
                (VOLUME, self.volume))


def _key(name: str) -> str:
    return name.strip().lower()


def resolve_layout(names: tuple[str, ...], report: ProblemReport) -> Layout | None:
    """The Layout of a file with these column ``names``; problems go to ``report`` (and give None)."""
    keys = [_key(n) for n in names]
    found: dict[str, str] = {}
    for role in VALUE_ROLES:
        matches = [n for n, k in zip(names, keys, strict=True) if k == role]
        if len(matches) > 1:
            report.file(f"columns {', '.join(_shown(m) for m in matches)} all name {role} (expected one)")
        if matches:
            found[role] = matches[0]
    times = [n for n, k in zip(names, keys, strict=True) if k in TIME_ALIASES]
    if not times:  # an unnamed index is the time only when no column is named as one (else it is a row number)
        times = [n for i, (n, k) in enumerate(zip(names, keys, strict=True))
                 if k in UNNAMED and (i == 0 or k == PARQUET_INDEX)]
    if len(times) > 1:
        report.file(f"several time columns {', '.join(_shown(t) for t in times)} (expected one)")
    missing = [role for role in PRICE_ROLES if role not in found]
    if not times:
        missing.insert(0, "a time column")
    if missing:
        shown = ", ".join(_shown(n) for n in names) if names else "none"
        hint = _closest(missing, [n for n in names if n not in found.values()])
        report.file(f"missing column(s) {', '.join(missing)} (expected {EXPECTED}; found {shown}){hint}")
    if report:
        return None
    return Layout(times[0], found["open"], found["high"], found["low"], found["close"], found.get(VOLUME))


def _shown(name: str) -> str:
    return name if name.strip() and name == name.strip() and "," not in name else f'"{name}"'


def _closest(missing: list[str], unused: list[str]) -> str:
    """``; did you mean "Clsoe" for close?`` for the first missing role that has a close unused name."""
    lowered = {_key(n): n for n in unused}
    for role in missing:
        wanted = list(TIME_ALIASES) if role == "a time column" else [role]
        for target in wanted:
            match = difflib.get_close_matches(target, list(lowered), n=1, cutoff=0.6)
            if match:
                what = "the time column" if role == "a time column" else role
                return f"; closest to {what}: {_shown(lowered[match[0]])}"
    return ""
