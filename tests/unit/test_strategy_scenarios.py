"""Scenario tables for the shipped signal rules: hand-written bars, a comment per row, expected trades.

Each row's comment derives the indicator and the rule's decision by hand (from the strategy's
docstring and README "Strategies"); the expected trades and PnL follow framework/README.md
("Execution semantics") without costs: a target decided on a close is acted on at the next open,
an all-in entry buys ``C / open`` units, an exit receives ``u * open``, a short entry adds its
notional to the cash. Nothing here was produced by running the code under test.
Wilder's RSI(w): the first value at bar w from the mean gain G and mean loss L of the first w
changes, then G = (G * (w - 1) + gain) / w (same for L); RSI = 100 - 100 / (1 + G / L).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from trading_framework import Bars, ExecutionSpec, FeatureCache, Strategy, run_backtest, validate_bars
from trading_runtime.strategies.donchian_breakout import DonchianBreakout
from trading_runtime.strategies.rsi_reversion import RsiReversion
from trading_runtime.strategies.signals import hold_signals

CASH = 100_000.0
DAY = 86_400


@dataclass(frozen=True)
class Row:
    open: float
    high: float
    low: float
    close: float
    target: float  # what the rule decides on this bar's close


@dataclass(frozen=True)
class Trade:
    entry_index: int
    entry_price: float
    exit_index: int | None  # None: still open after the last bar
    exit_price: float | None
    side: int
    units: float
    pnl: float


@dataclass(frozen=True)
class Scenario:
    strategy: Strategy
    rows: tuple[Row, ...]
    spec: ExecutionSpec
    trades: tuple[Trade, ...]
    equity: tuple[float, ...]


NO_COSTS = ExecutionSpec(fee_bps=0)
NO_COSTS_SHORT = ExecutionSpec(fee_bps=0, allow_short=True)

# ---------------------------------------------------------------------------------------------
# RsiReversion(window 2, lower 30, upper 70): long below 30, flat above 70, hold in between
U1 = CASH / 8.5  # the first entry, at the open 8.5
U2 = U1 * 10.5 / 7.5  # the exit's proceeds U1 * 10.5 all in again at 7.5
RSI_REVERSION = Scenario(
    strategy=RsiReversion(RsiReversion.Params(window=2, lower=30, upper=70)),
    rows=(
        #    open  high   low close target
        Row(10.0, 10.5, 9.5, 10.0, 0),  # bar 0: RSI undefined (fewer than 2 changes): no signal yet, flat
        Row(10.0, 10.0, 9.0, 9.0, 0),  # bar 1: RSI undefined (one change, -1): flat
        Row(9.0, 9.0, 8.0, 8.0, 1),  # bar 2: changes -1, -1: G 0, L 1, RSI 0 < 30: long
        Row(8.5, 9.0, 8.5, 9.0, 1),  # bar 3: buys U1 at 8.5; +1: G (0+1)/2 .5, L (1+0)/2 .5, RSI 50: hold long
        Row(9.5, 11.0, 9.5, 11.0, 0),  # bar 4: +2: G 1.25, L .25, RSI 100 - 100/6 = 83.3 > 70: flat
        Row(10.5, 10.5, 10.0, 10.0, 0),  # bar 5: sells U1 at 10.5; -1: G .625, L .625, RSI 50: hold flat
        Row(9.0, 9.0, 7.0, 7.0, 1),  # bar 6: -3: G .3125, L 1.8125, RSI 14.7 < 30: long
        Row(7.5, 8.0, 7.5, 8.0, 1),  # bar 7: buys U2 at 7.5; +1: G .65625, L .90625, RSI 42.0: hold; open at the end
    ),
    spec=NO_COSTS,
    trades=(
        Trade(3, 8.5, 5, 10.5, +1, U1, U1 * (10.5 - 8.5)),
        Trade(7, 7.5, None, None, +1, U2, U2 * (8.0 - 7.5)),  # open: marked at the last close
    ),
    equity=(CASH, CASH, CASH, U1 * 9.0, U1 * 11.0, U1 * 10.5, U1 * 10.5, U2 * 8.0),
)

# ---------------------------------------------------------------------------------------------
# DonchianBreakout(window 2): +1 on a close above the prior 2 bars' high, -1 below their low, else hold
D_BARS = (
    #    open  high   low close target
    Row(10.0, 11.0, 9.0, 10.0, 0),  # bar 0: no prior bars: no channel, no signal: flat
    Row(10.0, 11.0, 9.0, 10.0, 0),  # bar 1: one prior bar (window 2): no channel: flat
    Row(10.0, 12.0, 10.0, 11.5, 1),  # bar 2: channel of bars 0-1: high 11, low 9; 11.5 > 11: long
    Row(11.5, 12.0, 10.5, 11.0, 1),  # bar 3: bars 1-2: high 12, low 9; 11 inside: hold long
    Row(11.0, 11.0, 8.0, 8.5, -1),  # bar 4: bars 2-3: high 12, low 10; 8.5 < 10: short
    Row(8.6, 9.0, 8.0, 8.2, -1),  # bar 5: bars 3-4: high 12, low 8; 8.2 inside: hold short
    Row(8.2, 9.5, 8.0, 9.4, -1),  # bar 6: bars 4-5: high 11, low 8; 9.4 inside: hold short
    Row(9.4, 12.0, 9.4, 11.8, 1),  # bar 7: bars 5-6: high 9.5, low 8; 11.8 > 9.5: long
    Row(11.9, 12.5, 11.5, 12.0, 1),  # bar 8: bars 6-7: high 12; 12 is not above 12 (strict): hold long
)
V1 = CASH / 11.5  # the long bought at bar 3's open
# Reversal at bar 5's open 8.6: the long's proceeds C = V1 * 8.6, then a short of C / 8.6 = V1 units,
# whose notional is added to the cash: 2 * C = V1 * 17.2, and E = V1 * 17.2 - V1 * close.
# Cover at bar 8's open 11.9: cash V1 * (17.2 - 11.9) = V1 * 5.3, all in long at 11.9.
V3 = V1 * 5.3 / 11.9
DONCHIAN_LONG_SHORT = Scenario(
    strategy=DonchianBreakout(DonchianBreakout.Params(window=2)),
    rows=D_BARS,
    spec=NO_COSTS_SHORT,
    trades=(
        Trade(3, 11.5, 5, 8.6, +1, V1, V1 * (8.6 - 11.5)),  # the breakout long stopped by the break down
        Trade(5, 8.6, 8, 11.9, -1, V1, V1 * (8.6 - 11.9)),  # the short, covered on the break up
        Trade(8, 11.9, None, None, +1, V3, V3 * (12.0 - 11.9)),  # open: marked at the last close
    ),
    equity=(CASH, CASH, CASH, V1 * 11.0, V1 * 8.5, V1 * (17.2 - 8.2), V1 * (17.2 - 9.4),
            V1 * (17.2 - 11.8), V3 * 12.0),
)
# The same bars long-only: -1 becomes flat, so the short leg is cash V1 * 8.6 until bar 8's open.
V3_FLAT = V1 * 8.6 / 11.9
DONCHIAN_LONG_ONLY = Scenario(
    strategy=DonchianBreakout(DonchianBreakout.Params(window=2)),
    rows=D_BARS,
    spec=NO_COSTS,
    trades=(
        Trade(3, 11.5, 5, 8.6, +1, V1, V1 * (8.6 - 11.5)),
        Trade(8, 11.9, None, None, +1, V3_FLAT, V3_FLAT * (12.0 - 11.9)),
    ),
    equity=(CASH, CASH, CASH, V1 * 11.0, V1 * 8.5, V1 * 8.6, V1 * 8.6, V1 * 8.6, V3_FLAT * 12.0),
)

SCENARIOS = {
    "rsi_reversion": RSI_REVERSION,
    "donchian_long_short": DONCHIAN_LONG_SHORT,
    "donchian_long_only": DONCHIAN_LONG_ONLY,
}


def make_bars(rows: tuple[Row, ...]) -> Bars:
    n = len(rows)
    return Bars(
        np.arange(n, dtype=np.int64) * DAY * 1_000_000_000,
        np.array([r.open for r in rows], dtype=np.float64),
        np.array([r.high for r in rows], dtype=np.float64),
        np.array([r.low for r in rows], dtype=np.float64),
        np.array([r.close for r in rows], dtype=np.float64),
        np.full(n, 1_000.0),
    )


def money(expected: float | list[float]) -> object:
    return pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("sc", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_signal_rule_scenario(sc: Scenario) -> None:
    bars = make_bars(sc.rows)
    assert validate_bars(bars) == [], "the scenario table itself has inconsistent bars"
    target = sc.strategy.target(bars, FeatureCache(bars))
    assert target.tolist() == [r.target for r in sc.rows]

    result = run_backtest(bars, sc.strategy, sc.spec, DAY)
    assert result.simulation.equity.tolist() == money(list(sc.equity))
    tr = result.simulation.trades
    assert len(tr) == len(sc.trades)
    for i, want in enumerate(sc.trades):
        assert int(tr.entry_index[i]) == want.entry_index, f"trade {i}"
        assert int(tr.exit_index[i]) == (-1 if want.exit_index is None else want.exit_index), f"trade {i}"
        assert int(tr.side[i]) == want.side, f"trade {i}"
        assert float(tr.entry_price[i]) == pytest.approx(want.entry_price, rel=1e-12), f"trade {i}"
        if want.exit_price is None:
            assert math.isnan(tr.exit_price[i]), f"trade {i}"
        else:
            assert float(tr.exit_price[i]) == pytest.approx(want.exit_price, rel=1e-12), f"trade {i}"
        assert float(tr.units[i]) == pytest.approx(want.units, rel=1e-12), f"trade {i}"
        assert float(tr.pnl[i]) == money(want.pnl), f"trade {i}"
    assert result.metrics["n_trades"] == len(sc.trades)
    assert result.metrics["final_equity"] == money(sc.equity[-1])


def test_rsi_at_the_thresholds_holds():
    """The thresholds are strict: an RSI of exactly ``upper`` keeps the long, exactly ``lower`` stays flat."""
    rows = (
        Row(10.0, 10.0, 10.0, 10.0, 0),  # bar 0: RSI undefined: flat
        Row(10.0, 11.0, 10.0, 11.0, 0),  # bar 1: RSI undefined (one change)
        Row(11.0, 11.0, 10.0, 10.0, 0),  # bar 2: changes +1, -1: G .5, L .5, RSI 50 = lower: not below, flat
        Row(10.0, 10.0, 9.0, 9.0, 1),  # bar 3: -1: G .25, L .75, RSI 25 < 50: long
        Row(9.0, 11.0, 9.0, 11.0, 1),  # bar 4: +2: G 1.125, L .375, RSI 100 - 100/4 = 75 = upper: hold long
    )
    strategy = RsiReversion(RsiReversion.Params(window=2, lower=50, upper=75))
    bars = make_bars(rows)
    assert strategy.target(bars, FeatureCache(bars)).tolist() == [r.target for r in rows]


def test_hold_signals_carries_the_last_decision_forward():
    nan = math.nan
    signal = np.array([nan, nan, 1.0, nan, 0.0, nan, -1.0, nan])
    #                  no decision yet: 0 | long held | flat held | short held
    assert hold_signals(signal).tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0, -1.0]
