"""Bars: the constructor's type checks and every rule of ``validate_bars`` (framework/README.md, "Bars")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from trading_framework import Bars, BarsViolation, FeatureCache, MissingFieldError, validate_bars

NS = 1_000_000_000
TS_DUP = "strictly increasing timestamps (duplicate of the previous row)"
TS_EARLIER = "strictly increasing timestamps (earlier than the previous row)"


def clean_columns(n: int = 5) -> dict[str, np.ndarray]:
    """n consistent bars: open 100, 101, ..., close = open + 0.5, wicks of 1, volume 10."""
    o = 100.0 + np.arange(n, dtype=np.float64)
    c = o + 0.5
    return {
        "ts": np.arange(n, dtype=np.int64) * 60 * NS,
        "open": o,
        "high": np.maximum(o, c) + 1.0,
        "low": np.minimum(o, c) - 1.0,
        "close": c,
        "volume": np.full(n, 10.0),
    }


def bars_with(**changes: tuple[int, float | int]) -> Bars:
    """Clean bars with ``column=(row, value)`` overrides."""
    cols = clean_columns()
    for name, (row, value) in changes.items():
        cols[name][row] = value
    return Bars(**cols)


@dataclass(frozen=True)
class RuleCase:
    changes: dict[str, tuple[int, float | int]]
    expected: list[BarsViolation]


# Clean rows (row r): open = 100 + r, close = 100.5 + r, high = 101.5 + r, low = 99 + r, ts = 60 s * r.
RULES = {
    # row 2 repeats row 1's timestamp
    "duplicate_ts": RuleCase({"ts": (2, 60 * NS)}, [BarsViolation(2, "ts", 60 * NS, TS_DUP)]),
    # row 3 is earlier than row 2 (then row 4 is later again: only row 3 is reported)
    "unsorted_ts": RuleCase({"ts": (3, 30 * NS)}, [BarsViolation(3, "ts", 30 * NS, TS_EARLIER)]),
    # NaN compares false with everything, so only the finiteness rule fires
    "nan_open": RuleCase({"open": (1, math.nan)}, [BarsViolation(1, "open", math.nan, "a finite price")]),
    "nan_close": RuleCase({"close": (4, math.nan)}, [BarsViolation(4, "close", math.nan, "a finite price")]),
    "inf_high": RuleCase({"high": (0, math.inf)}, [BarsViolation(0, "high", math.inf, "a finite price")]),
    # a low of 0 or below still satisfies low <= min(open, close): only the price rule fires
    "zero_low": RuleCase({"low": (2, 0.0)}, [BarsViolation(2, "low", 0.0, "a price > 0")]),
    "negative_low": RuleCase({"low": (3, -1.0)}, [BarsViolation(3, "low", -1.0, "a price > 0")]),
    # high 99.5 is above low 99 but below max(open 100, close 100.5)
    "high_below_max_open_close": RuleCase(
        {"high": (0, 99.5)}, [BarsViolation(0, "high", 99.5, "high >= max(open, close)")]
    ),
    # low 101.2 is below high 102.5 but above min(open 101, close 101.5)
    "low_above_min_open_close": RuleCase(
        {"low": (1, 101.2)}, [BarsViolation(1, "low", 101.2, "low <= min(open, close)")]
    ),
    # high 98 < low 99 (row 0). Such a row necessarily breaks high >= max(open, close) too; the
    # implementation reports only "high >= low" for it (see the final report: README ambiguity).
    "high_below_low": RuleCase({"high": (0, 98.0)}, [BarsViolation(0, "high", 98.0, "high >= low")]),
    "negative_volume": RuleCase({"volume": (2, -0.5)}, [BarsViolation(2, "volume", -0.5, "volume >= 0")]),
    "nan_volume": RuleCase({"volume": (4, math.nan)}, [BarsViolation(4, "volume", math.nan, "a finite volume")]),
    # -inf volume is one violation (not finite), like -inf prices; it used to be reported twice
    "minus_inf_volume": RuleCase(
        {"volume": (1, -math.inf)}, [BarsViolation(1, "volume", -math.inf, "a finite volume")]
    ),
}


def same_violations(actual: list[BarsViolation], expected: list[BarsViolation]) -> bool:
    """Equality that treats NaN values as equal (dataclass == compares NaN != NaN)."""
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if (a.row, a.column, a.expected) != (e.row, e.column, e.expected):
            return False
        if type(a.value) is not type(e.value):
            return False
        both_nan = isinstance(a.value, float) and math.isnan(a.value) and math.isnan(e.value)
        if not both_nan and a.value != e.value:
            return False
    return True


def test_clean_bars_have_no_violation() -> None:
    assert validate_bars(Bars(**clean_columns())) == []


def test_empty_and_single_bars_have_no_violation() -> None:
    assert validate_bars(Bars(**clean_columns(0))) == []
    assert validate_bars(Bars(**clean_columns(1))) == []


def test_flat_bar_and_zero_volume_are_valid() -> None:
    """open = high = low = close and volume 0 satisfy every rule (all bounds are inclusive)."""
    cols = clean_columns(3)
    for name in ("open", "high", "low", "close"):
        cols[name][1] = 7.0
    cols["volume"][1] = 0.0
    assert validate_bars(Bars(**cols)) == []


@pytest.mark.parametrize("case", list(RULES.values()), ids=list(RULES))
def test_each_rule_reports_exactly_one_violation(case: RuleCase) -> None:
    found = validate_bars(bars_with(**case.changes))
    assert same_violations(found, case.expected), found


def test_value_types_follow_the_column() -> None:
    (ts_violation,) = validate_bars(bars_with(ts=(2, 60 * NS)))
    assert type(ts_violation.value) is int
    (price_violation,) = validate_bars(bars_with(low=(2, 0.0)))
    assert type(price_violation.value) is float


def test_several_violations_sorted_by_row_then_rule() -> None:
    cols = clean_columns()
    cols["volume"][4] = -1.0  # row 4: volume
    cols["open"][1] = -5.0  # row 1: open <= 0 ...
    cols["low"][1] = -6.0  # ... and low <= 0 (still <= min(open, close), so no third rule)
    cols["ts"][1] = 0  # row 1: duplicate of row 0's timestamp (rule order: ts first)
    cols["high"][3] = 50.0  # row 3: high 50 < low 102 (only "high >= low" is reported)
    found = validate_bars(Bars(**cols))
    assert found == [
        BarsViolation(1, "ts", 0, TS_DUP),
        BarsViolation(1, "open", -5.0, "a price > 0"),
        BarsViolation(1, "low", -6.0, "a price > 0"),
        BarsViolation(3, "high", 50.0, "high >= low"),
        BarsViolation(4, "volume", -1.0, "volume >= 0"),
    ]


def test_limit_keeps_the_first_violations_in_order() -> None:
    cols = clean_columns(50)
    cols["volume"][:] = -1.0  # every row breaks the volume rule
    cols["ts"][10] = cols["ts"][9]  # and row 10 duplicates a timestamp
    found = validate_bars(Bars(**cols), limit=3)
    assert [(v.row, v.column) for v in found] == [(0, "volume"), (1, "volume"), (2, "volume")]
    assert len(validate_bars(Bars(**cols))) == 51


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("ts", np.arange(5, dtype=np.float64), TypeError),  # ts must be int64 nanoseconds
        ("ts", np.arange(5, dtype=np.int32), TypeError),
        ("close", np.ones(5, dtype=np.float32), TypeError),  # prices must be float64
        ("volume", np.ones(5, dtype=np.int64), TypeError),
        ("open", [100.0] * 5, TypeError),  # a list is not a numpy array
        ("high", np.ones((5, 1)), TypeError),  # 2-D
        ("low", np.ones(4), ValueError),  # one row short
        ("volume", np.ones(6), ValueError),  # one row too many
    ],
    ids=["ts_float", "ts_int32", "close_float32", "volume_int", "open_list", "high_2d", "low_short", "volume_long"],
)
def test_bars_constructor_rejects(column: str, value: object, error: type[Exception]) -> None:
    cols: dict[str, object] = dict(clean_columns())
    cols[column] = value
    with pytest.raises(error, match=f"Bars.{column}"):
        Bars(**cols)  # type: ignore[arg-type]


def test_slice_is_a_view_of_the_rows() -> None:
    bars = Bars(**clean_columns())
    part = bars.slice(1, 3)
    assert len(part) == 2
    assert part.ts.tolist() == [60 * NS, 120 * NS]
    assert np.shares_memory(part.close, bars.close)


def test_bars_without_volume_refuse_the_volume_feature() -> None:
    one = np.ones(3)
    bars = Bars(np.arange(3, dtype=np.int64), one, one, one, one, np.zeros(3), has_volume=False)
    assert not bars.slice(0, 2).has_volume
    assert FeatureCache(bars).column("close") is bars.close
    with pytest.raises(MissingFieldError, match="the strategy needs volume but the bars have none"):
        FeatureCache(bars).sma(2, "volume")
