"""Scenario tables for the execution simulator: hand-written bars, a comment per row, expected trades.

Every expected number is derived by hand from framework/README.md ("Execution semantics") and
written as the arithmetic that produces it; none was produced by running the simulator.
Notation: F = fee_bps / 1e4, S = slippage_bps / 1e4, C = cash before the entry leg,
N = |x| * C / (1 + F) the entry notional, u = N / fill price, E[t] = cash + signed units * close[t].
A target is decided on a bar's close and acted on at the next bar's open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from trading_framework import Bars, ExecutionSpec, bars_per_year, compute_metrics, simulate, validate_bars

NAN = math.nan
CASH = 100_000.0
F5 = 5 / 1e4  # the default fee, 5 bps


@dataclass(frozen=True)
class Row:
    open: float
    high: float
    low: float
    close: float
    target: float  # decided on this bar's close


@dataclass(frozen=True)
class Trade:
    entry_index: int
    entry_price: float
    exit_index: int | None  # None: still open after the last bar
    exit_price: float | None
    side: int
    units: float
    fees: float
    pnl: float


@dataclass(frozen=True)
class Scenario:
    rows: tuple[Row, ...]
    spec: ExecutionSpec
    trades: tuple[Trade, ...]
    equity: tuple[float, ...]  # E[t] for t = start..n-1
    fees_paid: float
    start: int = 0
    metrics: tuple[tuple[str, float | int | None], ...] = ()  # further hand-derived metrics


NO_COSTS = ExecutionSpec(fee_bps=0)

# ---------------------------------------------------------------------------------------------
# long entry: flat until the signal, then all-in at the next open, held to the end (no costs)
U = CASH / 53  # x = 1, F = 0: N = C = 100_000 spent at 53
LONG_ENTRY = Scenario(
    rows=(
        #   open  high  low close target
        Row(50, 51, 49, 50, 0),  # bar 0: flat (the position during bar 0 is always flat)
        Row(50, 52, 50, 52, 1),  # bar 1: flat (acts on x[0] = 0); decides all-in long on the close
        Row(53, 56, 53, 55, 1),  # bar 2: buys U = 100_000 / 53 at the open 53, cash 0; E = U * 55
        Row(55, 55, 51, 52, 1),  # bar 3: same target, nothing traded; E = U * 52
        Row(52, 54, 52, 54, 1),  # bar 4: E = U * 54; still long after the last bar (open trade)
    ),
    spec=NO_COSTS,
    trades=(Trade(2, 53, None, None, +1, U, 0, U * (54 - 53)),),
    equity=(CASH, CASH, U * 55, U * 52, U * 54),
    fees_paid=0,
    metrics=(("exposure", 3 / 5), ("turnover", 1.0), ("win_rate", 1.0), ("profit_factor", None)),
)

# ---------------------------------------------------------------------------------------------
# exit: a long closed at the open after the target goes flat, losing money (no costs)
U = CASH / 103
LONG_EXIT = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 101, 99, 100, 0),  # bar 0: flat
        Row(101, 103, 100, 102, 1),  # bar 1: flat; decides long
        Row(103, 105, 102, 104, 1),  # bar 2: buys U = 100_000 / 103 at 103; E = U * 104
        Row(105, 106, 100, 101, 0),  # bar 3: holds; E = U * 101; decides flat
        Row(99, 101, 98, 100, 0),  # bar 4: sells U at the open 99 (not at the previous close 101); E = U * 99
    ),
    spec=NO_COSTS,
    trades=(Trade(2, 103, 4, 99, +1, U, 0, U * (99 - 103)),),  # pnl = -400_000 / 103 ≈ -3883.50
    equity=(CASH, CASH, U * 104, U * 101, U * 99),
    fees_paid=0,
    metrics=(("exposure", 2 / 5), ("turnover", (CASH + U * 99) / CASH), ("win_rate", 0.0),
             ("profit_factor", 0.0), ("total_return", U * 99 / CASH - 1)),
)

# ---------------------------------------------------------------------------------------------
# fees: a long round trip with the default 5 bps on each leg
N1 = CASH / (1 + F5)  # entry notional ≈ 99_950.02
U = N1 / 100  # ≈ 999.50 units at 100
FEE_IN = N1 * F5  # ≈ 49.98
CASH1 = CASH - N1 - FEE_IN  # ≈ 0: x = 1 spends all cash
FEE_OUT = U * 120 * F5  # ≈ 59.97
FEES = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: flat; decides long
        Row(100, 111, 99, 110, 1),  # bar 1: buys U = N1 / 100, pays FEE_IN; E = CASH1 + U * 110
        Row(110, 121, 110, 120, 0),  # bar 2: holds; E = CASH1 + U * 120; decides flat
        Row(120, 120, 114, 115, 0),  # bar 3: sells U at 120, receives U * 120 * (1 - F); E = cash
        Row(115, 115, 100, 100, 0),  # bar 4: flat, equity unchanged
    ),
    spec=ExecutionSpec(),  # fee_bps = 5
    # pnl = U * (120 - 100) - FEE_IN - FEE_OUT ≈ 19_990.00 - 109.95 ≈ 19_880.06
    trades=(Trade(1, 100, 3, 120, +1, U, FEE_IN + FEE_OUT, U * (120 - 100) - FEE_IN - FEE_OUT),),
    equity=(CASH, CASH1 + U * 110, CASH1 + U * 120, CASH1 + U * 120 - FEE_OUT, CASH1 + U * 120 - FEE_OUT),
    fees_paid=FEE_IN + FEE_OUT,
    metrics=(("turnover", (N1 + U * 120) / CASH), ("exposure", 2 / 5), ("win_rate", 1.0)),
)

# ---------------------------------------------------------------------------------------------
# slippage: 10 bps against every fill, a long then a short (no fee)
S = 10 / 1e4
P_BUY1 = 100 * (1 + S)  # 100.1: a buy fills above the open
U1 = CASH / P_BUY1
P_SELL1 = 110 * (1 - S)  # 109.89: a sell fills below the open
C3 = U1 * P_SELL1  # cash after the exit
P_SHORT = 100 * (1 - S)  # 99.9: the short is a sell
U2 = C3 / P_SHORT  # N = C3 (F = 0)
P_COVER = 80 * (1 + S)  # 80.08: buying back is a buy
SLIPPAGE = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: flat; decides long
        Row(100, 106, 100, 105, 1),  # bar 1: buys U1 at 100.1; E = U1 * 105
        Row(110, 110, 107, 108, 0),  # bar 2: holds; E = U1 * 108; decides flat
        Row(110, 111, 109, 110, -1),  # bar 3: sells U1 at 109.89, cash C3; E = C3; decides short
        Row(100, 100, 95, 95, -1),  # bar 4: shorts U2 = C3 / 99.9, cash C3 + C3; E = 2 * C3 - U2 * 95
        Row(90, 91, 89, 90, 0),  # bar 5: holds; E = 2 * C3 - U2 * 90; decides flat
        Row(80, 86, 80, 85, 0),  # bar 6: buys back U2 at 80.08; E = 2 * C3 - U2 * 80.08
    ),
    spec=ExecutionSpec(fee_bps=0, slippage_bps=10, allow_short=True),
    trades=(
        Trade(1, P_BUY1, 3, P_SELL1, +1, U1, 0, U1 * (P_SELL1 - P_BUY1)),  # ≈ +9_780.22
        Trade(4, P_SHORT, 6, P_COVER, -1, U2, 0, U2 * (P_SHORT - P_COVER)),  # ≈ +21_780.22
    ),
    equity=(CASH, U1 * 105, U1 * 108, C3, 2 * C3 - U2 * 95, 2 * C3 - U2 * 90, 2 * C3 - U2 * P_COVER),
    fees_paid=0,
    metrics=(("turnover", (CASH + C3 + C3 + U2 * P_COVER) / CASH), ("exposure", 4 / 7)),
)

# ---------------------------------------------------------------------------------------------
# long → short flip at one open: the exit leg, then the entry leg with the cash it left (5 bps)
N1 = CASH / (1 + F5)
U1 = N1 / 100
FEE1 = N1 * F5
CASH1 = CASH - N1 - FEE1
FEE2 = U1 * 120 * F5  # exit fee of the long at 120
C = CASH1 + U1 * 120 - FEE2  # cash after the exit leg (the book is flat)
N2 = C / (1 + F5)
U2 = N2 / 120
FEE3 = N2 * F5
CASH3 = C + N2 - FEE3  # a short receives N and pays the fee
FLIP = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: flat; decides long
        Row(100, 111, 100, 110, 1),  # bar 1: buys U1 at 100; E = CASH1 + U1 * 110
        Row(110, 121, 110, 120, -1),  # bar 2: holds; E = CASH1 + U1 * 120; decides short
        Row(120, 121, 109, 110, -1),  # bar 3: sells U1 at 120, then shorts U2 at 120; E = CASH3 - U2 * 110
        Row(100, 100, 90, 90, -1),  # bar 4: holds the short; E = CASH3 - U2 * 90; open at the end
    ),
    spec=ExecutionSpec(allow_short=True),
    trades=(
        Trade(1, 100, 3, 120, +1, U1, FEE1 + FEE2, U1 * (120 - 100) - FEE1 - FEE2),
        Trade(3, 120, None, None, -1, U2, FEE3, U2 * (120 - 90) - FEE3),  # open: no exit fee
    ),
    equity=(CASH, CASH1 + U1 * 110, CASH1 + U1 * 120, CASH3 - U2 * 110, CASH3 - U2 * 90),
    fees_paid=FEE1 + FEE2 + FEE3,
    metrics=(("turnover", (N1 + U1 * 120 + N2) / CASH), ("exposure", 4 / 5)),
)

# ---------------------------------------------------------------------------------------------
# leverage cap: a target of 2 with max_leverage 1 behaves as 1 (and 1 → 2 is then no change)
LEVERAGE_CAPPED = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 2),  # bar 0: flat; wants 2, clipped to 1
        Row(100, 110, 100, 110, 1),  # bar 1: buys 1x: u = 100_000 / 100 = 1000, cash 0; E = 110_000
        Row(110, 121, 110, 121, 2),  # bar 2: x'[1] = 1 = current, no trade; E = 121_000; 2 clips to 1
        Row(121, 121, 120, 120, 2),  # bar 3: still 1, no trade; E = 120_000; open at the end
    ),
    spec=ExecutionSpec(fee_bps=0, max_leverage=1),
    trades=(Trade(1, 100, None, None, +1, 1000, 0, 1000 * (120 - 100)),),
    equity=(CASH, 110_000, 121_000, 120_000),
    fees_paid=0,
    metrics=(("turnover", 1.0), ("exposure", 3 / 4), ("total_return", 0.2)),
)

# leverage 2 allowed: the same bars, twice the units, cash borrowed (negative)
LEVERAGE_2 = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 2),  # bar 0: flat; decides 2x long
        Row(100, 110, 100, 110, 2),  # bar 1: buys u = 2 * 100_000 / 100 = 2000, cash -100_000; E = 120_000
        Row(110, 121, 110, 121, 2),  # bar 2: holds; E = -100_000 + 2000 * 121 = 142_000
        Row(121, 121, 120, 120, 2),  # bar 3: holds; E = -100_000 + 2000 * 120 = 140_000; open
    ),
    spec=ExecutionSpec(fee_bps=0, max_leverage=2),
    trades=(Trade(1, 100, None, None, +1, 2000, 0, 2000 * (120 - 100)),),
    equity=(CASH, 120_000, 142_000, 140_000),
    fees_paid=0,
    metrics=(("turnover", 2.0), ("total_return", 0.4)),
)

# ---------------------------------------------------------------------------------------------
# shorts disallowed: negative targets become 0 (flat), so -1 after a long is an exit
U = CASH / 90
SHORTS_DISALLOWED = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, -1),  # bar 0: flat; -1 → 0 (no shorts)
        Row(100, 100, 90, 90, 1),  # bar 1: x'[0] = 0, stays flat; decides long
        Row(90, 96, 90, 95, -1),  # bar 2: buys U = 100_000 / 90 at 90; E = U * 95; -1 → 0
        Row(96, 96, 80, 80, -2),  # bar 3: sells U at 96 (flat, not short); E = U * 96; -2 → 0 = current
        Row(80, 80, 70, 70, -1),  # bar 4: nothing traded; E = U * 96
    ),
    spec=ExecutionSpec(fee_bps=0, allow_short=False),
    trades=(Trade(2, 90, 3, 96, +1, U, 0, U * (96 - 90)),),
    equity=(CASH, CASH, U * 95, U * 96, U * 96),
    fees_paid=0,
    metrics=(("exposure", 1 / 5),),
)

# ---------------------------------------------------------------------------------------------
# max-drawdown stop: the drawdown reaches exactly 10 % on a close → flatten at the next open, then
# no further trade whatever the targets
MDD_STOP = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: flat; decides long
        Row(100, 100, 95, 95, 1),  # bar 1: buys 1000 at 100; E = 95_000, drawdown 5 %
        Row(95, 95, 90, 90, 1),  # bar 2: E = 90_000, drawdown (100_000 - 90_000) / 100_000 = 0.1 >= 0.1: stop
        Row(92, 93, 92, 93, 0.5),  # bar 3: stopped: sells 1000 at 92 (x'[2] = 1 would have held); E = 92_000
        Row(93, 96, 93, 96, 1),  # bar 4: x'[3] = 0.5 ignored (stopped); E = 92_000
        Row(96, 99, 96, 99, 1),  # bar 5: x'[4] = 1 ignored; E = 92_000
    ),
    spec=ExecutionSpec(fee_bps=0, max_drawdown=0.1),
    trades=(Trade(1, 100, 3, 92, +1, 1000, 0, 1000 * (92 - 100)),),
    equity=(CASH, 95_000, 90_000, 92_000, 92_000, 92_000),
    fees_paid=0,
    metrics=(("max_drawdown", 0.1), ("max_drawdown_duration_bars", 5), ("exposure", 2 / 6),
             ("total_return", -0.08)),
)

# ---------------------------------------------------------------------------------------------
# price gap: a short covered at an open far above the previous close; equity goes negative and no
# new entry is made while cash <= 0
PRICE_GAP = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, -1),  # bar 0: flat; decides short
        Row(100, 100, 100, 100, -1),  # bar 1: shorts 1000 at 100, cash 200_000; E = 200_000 - 1000 * 100
        Row(100, 110, 100, 110, 0),  # bar 2: holds; E = 200_000 - 110_000 = 90_000; decides flat
        Row(250, 260, 250, 260, 0),  # bar 3: gap 110 → 250: buys back at 250, cash = 200_000 - 250_000
        Row(260, 270, 260, 270, 1),  # bar 4: flat, E = -50_000; decides long
        Row(270, 280, 270, 280, 1),  # bar 5: C = -50_000 <= 0: no entry; E = -50_000
    ),
    spec=ExecutionSpec(fee_bps=0, allow_short=True),
    trades=(Trade(1, 100, 3, 250, -1, 1000, 0, 1000 * (100 - 250)),),
    equity=(CASH, CASH, 90_000, -50_000, -50_000, -50_000),
    fees_paid=0,
    metrics=(("cagr", -1.0), ("total_return", -1.5), ("max_drawdown", 1.5), ("n_trades", 1),
             ("win_rate", 0.0), ("profit_factor", 0.0), ("exposure", 2 / 6),
             ("turnover", (100_000 + 250_000) / CASH)),
)

# ---------------------------------------------------------------------------------------------
# warm-up: start = 2; bars 0 and 1 are never traded or marked; the open of bar 2 follows x[1]
U = CASH / 108
WARMUP_FLAT = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: warm-up; x[0] = 1 is never acted on (bar 1 is warm-up)
        Row(100, 102, 100, 102, 0),  # bar 1: warm-up; x[1] = 0 decides the open of bar 2
        Row(104, 106, 104, 106, 1),  # bar 2: first simulated bar: flat (x'[1] = 0); E = 100_000
        Row(108, 110, 108, 110, 1),  # bar 3: buys U = 100_000 / 108 at 108; E = U * 110
        Row(112, 112, 110, 111, 1),  # bar 4: holds; E = U * 111; open at the end
    ),
    spec=NO_COSTS,
    start=2,
    trades=(Trade(3, 108, None, None, +1, U, 0, U * (111 - 108)),),
    equity=(CASH, U * 110, U * 111),  # bars 2..4 only
    fees_paid=0,
    metrics=(("exposure", 2 / 3),),
)

U = CASH / 104
WARMUP_ENTRY_AT_START = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 0),  # bar 0: warm-up
        Row(100, 102, 100, 102, 1),  # bar 1: warm-up; decides long on the last warm-up close
        Row(104, 106, 104, 106, 1),  # bar 2: first simulated bar: buys U = 100_000 / 104 at its open
        Row(108, 110, 108, 110, 1),  # bar 3: holds; E = U * 110
        Row(112, 112, 110, 111, 0),  # bar 4: E = U * 111; the last target is never acted on
    ),
    spec=NO_COSTS,
    start=2,
    trades=(Trade(2, 104, None, None, +1, U, 0, U * (111 - 104)),),
    equity=(U * 106, U * 110, U * 111),
    fees_paid=0,
    # returns start from E[-1] = initial cash: r = (U*106/1e5 - 1, 110/106 - 1, 111/110 - 1)
    metrics=(("exposure", 1.0), ("total_return", U * 111 / CASH - 1)),
)

# ---------------------------------------------------------------------------------------------
# position open at the end: marked to the last close, no exit fee, counted in n_trades
N1 = CASH / (1 + F5)
U = N1 / 52
FEE_IN = N1 * F5
CASH1 = CASH - N1 - FEE_IN
OPEN_AT_END = Scenario(
    rows=(
        #   open high low close target
        Row(50, 50, 50, 50, 0),  # bar 0: flat
        Row(50, 52, 50, 52, 1),  # bar 1: flat; decides long
        Row(52, 55, 52, 55, 1),  # bar 2: buys U = N1 / 52 at 52, pays FEE_IN; E = CASH1 + U * 55
        Row(55, 60, 55, 60, 0),  # bar 3: last bar: its target (flat) is never acted on; E = CASH1 + U * 60
    ),
    spec=ExecutionSpec(),
    # pnl = marked value change minus the entry fee: U * (60 - 52) - FEE_IN
    trades=(Trade(2, 52, None, None, +1, U, FEE_IN, U * (60 - 52) - FEE_IN),),
    equity=(CASH, CASH, CASH1 + U * 55, CASH1 + U * 60),
    fees_paid=FEE_IN,
    metrics=(("n_trades", 1), ("win_rate", 1.0), ("profit_factor", None), ("turnover", N1 / CASH),
             ("exposure", 2 / 4)),
)

# ---------------------------------------------------------------------------------------------
# size change 0.5 → 1.0: closes the half position and reopens a full one at the same open
N1 = 0.5 * CASH / (1 + F5)
U1 = N1 / 100
FEE1 = N1 * F5
CASH1 = CASH - N1 - FEE1  # ≈ 50_000 left
FEE2 = U1 * 110 * F5
C2 = CASH1 + U1 * 110 - FEE2  # after the exit leg
N2 = C2 / (1 + F5)
U2 = N2 / 110
FEE3 = N2 * F5
CASH2 = C2 - N2 - FEE3
FEE4 = U2 * 120 * F5
RESIZE = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 0.5),  # bar 0: flat; decides half long
        Row(100, 100, 100, 100, 1.0),  # bar 1: buys U1 = N1 / 100; E = CASH1 + U1 * 100; decides full
        Row(110, 110, 110, 110, 1.0),  # bar 2: sells U1 at 110, buys U2 = N2 / 110 at 110; E = CASH2 + U2 * 110
        Row(110, 120, 110, 120, 0),  # bar 3: holds; E = CASH2 + U2 * 120; decides flat
        Row(120, 120, 120, 120, 0),  # bar 4: sells U2 at 120; E = CASH2 + U2 * 120 - FEE4
    ),
    spec=ExecutionSpec(),
    trades=(
        Trade(1, 100, 2, 110, +1, U1, FEE1 + FEE2, U1 * (110 - 100) - FEE1 - FEE2),
        Trade(2, 110, 4, 120, +1, U2, FEE3 + FEE4, U2 * (120 - 110) - FEE3 - FEE4),
    ),
    equity=(CASH, CASH1 + U1 * 100, CASH2 + U2 * 110, CASH2 + U2 * 120, CASH2 + U2 * 120 - FEE4),
    fees_paid=FEE1 + FEE2 + FEE3 + FEE4,
    metrics=(("n_trades", 2), ("turnover", (N1 + U1 * 110 + N2 + U2 * 120) / CASH), ("exposure", 3 / 5)),
)

# ---------------------------------------------------------------------------------------------
# NaN target counts as 0: it closes a position, and NaN after a flat 0 is no change
U2 = 110_000 / 130
NAN_TARGET = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 100, 100, 100, 1),  # bar 0: flat; decides long
        Row(100, 110, 100, 110, NAN),  # bar 1: buys 1000 at 100; E = 110_000; NaN → 0
        Row(110, 120, 110, 120, NAN),  # bar 2: sells 1000 at 110, cash 110_000; NaN → 0 = current
        Row(120, 130, 120, 130, 1),  # bar 3: nothing traded; E = 110_000; decides long
        Row(130, 130, 125, 125, NAN),  # bar 4: buys U2 = 110_000 / 130 at 130; E = U2 * 125; NaN → 0
        Row(120, 120, 100, 100, 0),  # bar 5: sells U2 at 120; E = U2 * 120
    ),
    spec=NO_COSTS,
    trades=(
        Trade(1, 100, 2, 110, +1, 1000, 0, 1000 * (110 - 100)),
        Trade(4, 130, 5, 120, +1, U2, 0, U2 * (120 - 130)),
    ),
    equity=(CASH, 110_000, 110_000, 110_000, U2 * 125, U2 * 120),
    fees_paid=0,
    metrics=(("win_rate", 0.5), ("profit_factor", 10_000 / (U2 * 10)), ("exposure", 2 / 6)),
)

# ---------------------------------------------------------------------------------------------
# a short round trip with fees: the exit leg pays u * p * (1 + F)
N1 = 0.5 * CASH / (1 + F5)
U = N1 / 200
FEE1 = N1 * F5
CASH1 = CASH + N1 - FEE1  # a short receives the notional
FEE2 = U * 180 * F5
SHORT_WITH_FEES = Scenario(
    rows=(
        #    open  high  low close target
        Row(200, 200, 200, 200, -0.5),  # bar 0: flat; decides half short
        Row(200, 200, 190, 190, -0.5),  # bar 1: sells U = N1 / 200 short at 200; E = CASH1 - U * 190
        Row(190, 190, 180, 180, 0),  # bar 2: holds; E = CASH1 - U * 180; decides flat
        Row(180, 185, 180, 185, 0),  # bar 3: buys U back at 180 paying U * 180 * (1 + F); E = cash
        Row(185, 185, 185, 185, 0),  # bar 4: flat
    ),
    spec=ExecutionSpec(allow_short=True),
    trades=(Trade(1, 200, 3, 180, -1, U, FEE1 + FEE2, U * (200 - 180) - FEE1 - FEE2),),
    equity=(CASH, CASH1 - U * 190, CASH1 - U * 180, CASH1 - U * 180 - FEE2, CASH1 - U * 180 - FEE2),
    fees_paid=FEE1 + FEE2,
    metrics=(("exposure", 2 / 5), ("turnover", (N1 + U * 180) / CASH)),
)

# ---------------------------------------------------------------------------------------------
# a single bar: its target is never acted on; one return r[0] = 0
SINGLE_BAR = Scenario(
    rows=(
        #    open  high  low close target
        Row(100, 101, 99, 100, 1),  # bar 0: flat (the last bar's target is never acted on)
    ),
    spec=ExecutionSpec(),
    trades=(),
    equity=(CASH,),
    fees_paid=0,
    metrics=(("total_return", 0.0), ("cagr", None), ("sharpe", None), ("sortino", None),
             ("max_drawdown", 0.0), ("max_drawdown_duration_bars", 0), ("calmar", None), ("n_trades", 0),
             ("win_rate", None), ("profit_factor", None), ("exposure", 0.0), ("turnover", 0.0)),
)

SCENARIOS = {
    "long_entry": LONG_ENTRY,
    "long_exit": LONG_EXIT,
    "fees": FEES,
    "slippage": SLIPPAGE,
    "flip_long_to_short": FLIP,
    "leverage_capped_at_1": LEVERAGE_CAPPED,
    "leverage_2_allowed": LEVERAGE_2,
    "shorts_disallowed_clip_to_flat": SHORTS_DISALLOWED,
    "max_drawdown_stop": MDD_STOP,
    "price_gap_short_wiped_out": PRICE_GAP,
    "warmup_flat_at_start": WARMUP_FLAT,
    "warmup_entry_at_start": WARMUP_ENTRY_AT_START,
    "open_at_end": OPEN_AT_END,
    "size_change_closes_and_reopens": RESIZE,
    "nan_target_is_flat": NAN_TARGET,
    "short_with_fees": SHORT_WITH_FEES,
    "single_bar": SINGLE_BAR,
}

DAY = 86_400


def money(expected: float | list[float]) -> object:
    """Money compares to 1e-9 absolute (plus 1e-12 relative for the rounding of large equity)."""
    return pytest.approx(expected, rel=1e-12, abs=1e-9)


def make_bars(rows: tuple[Row, ...], seconds: int = DAY) -> Bars:
    """The rows as bars ``seconds`` apart (daily by default), the first at 1970-01-01T00:00Z."""
    n = len(rows)
    return Bars(
        np.arange(n, dtype=np.int64) * seconds * 1_000_000_000,
        np.array([r.open for r in rows], dtype=np.float64),
        np.array([r.high for r in rows], dtype=np.float64),
        np.array([r.low for r in rows], dtype=np.float64),
        np.array([r.close for r in rows], dtype=np.float64),
        np.full(n, 1_000.0),
    )


def expected_position(sc: Scenario, n: int) -> list[float]:
    """Signed units at every simulated close, from the expected trades."""
    position = [0.0] * n
    for tr in sc.trades:
        stop = n if tr.exit_index is None else tr.exit_index
        for t in range(tr.entry_index, stop):
            position[t] = tr.side * tr.units
    return position[sc.start:]


@pytest.mark.parametrize("sc", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario(sc: Scenario) -> None:
    bars = make_bars(sc.rows)
    assert validate_bars(bars) == [], "the scenario table itself has inconsistent bars"
    target = np.array([r.target for r in sc.rows], dtype=np.float64)
    sim = simulate(bars, target, sc.spec, start=sc.start)

    assert sim.equity.tolist() == money(list(sc.equity))
    assert sim.position.tolist() == pytest.approx(expected_position(sc, len(sc.rows)), rel=1e-12, abs=0)

    tr = sim.trades
    assert len(tr) == len(sc.trades)
    for i, want in enumerate(sc.trades):
        assert int(tr.entry_index[i]) == want.entry_index
        assert int(tr.exit_index[i]) == (-1 if want.exit_index is None else want.exit_index)
        assert bool(tr.is_open[i]) is (want.exit_index is None)
        assert int(tr.side[i]) == want.side
        assert float(tr.entry_price[i]) == pytest.approx(want.entry_price, rel=1e-12)
        if want.exit_price is None:
            assert math.isnan(tr.exit_price[i])
        else:
            assert float(tr.exit_price[i]) == pytest.approx(want.exit_price, rel=1e-12)
        assert float(tr.units[i]) == pytest.approx(want.units, rel=1e-12)
        assert float(tr.fees[i]) == money(want.fees)
        assert float(tr.pnl[i]) == money(want.pnl)

    metrics = compute_metrics(sim, bars_per_year(DAY))
    assert metrics["final_equity"] == money(sc.equity[-1])
    assert metrics["fees_paid"] == money(sc.fees_paid)
    assert sim.fees_paid == money(sc.fees_paid)
    assert metrics["n_trades"] == len(sc.trades)
    for name, value in sc.metrics:
        if value is None:
            assert metrics[name] is None, name
        else:
            assert metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_open_trade_record_has_null_exit() -> None:
    bars = make_bars(OPEN_AT_END.rows)
    target = np.array([r.target for r in OPEN_AT_END.rows])
    (record,) = simulate(bars, target, OPEN_AT_END.spec).trades.records(bars.ts)
    want = OPEN_AT_END.trades[0]
    assert record == {
        "entry_time": 2 * DAY * 1_000_000_000,
        "entry_price": pytest.approx(52.0),
        "exit_time": None,
        "exit_price": None,
        "side": 1,
        "units": pytest.approx(want.units, rel=1e-12),
        "pnl": money(want.pnl),
        "fees": money(want.fees),
        "is_open": True,
    }


def test_closed_trade_record_has_exit_time_and_price() -> None:
    bars = make_bars(LONG_EXIT.rows)
    target = np.array([r.target for r in LONG_EXIT.rows])
    (record,) = simulate(bars, target, LONG_EXIT.spec).trades.records(bars.ts)
    assert record["exit_time"] == 4 * DAY * 1_000_000_000
    assert record["exit_price"] == 99.0
    assert record["is_open"] is False


def test_single_bar_sharpe_and_cagr() -> None:
    """n = 1: no calendar time passes from the first bar to the last, so no yearly rate (cagr None,
    and calmar with it); sharpe needs n >= 2."""
    bars = make_bars(SINGLE_BAR.rows)
    metrics = compute_metrics(simulate(bars, np.array([1.0]), SINGLE_BAR.spec), bars_per_year(DAY))
    assert metrics["sharpe"] is None
    assert metrics["cagr"] is None
    assert metrics["calmar"] is None


def test_metrics_of_a_known_equity_curve() -> None:
    """Sharpe, sortino, cagr and calmar of LEVERAGE_CAPPED, by hand (4 daily bars, 365 per year)."""
    bars = make_bars(LEVERAGE_CAPPED.rows)
    target = np.array([r.target for r in LEVERAGE_CAPPED.rows])
    metrics = compute_metrics(simulate(bars, target, LEVERAGE_CAPPED.spec), bars_per_year(DAY))
    # E = 100_000, 110_000, 121_000, 120_000 → r = 0, 0.1, 0.1, 120/121 - 1
    r = [0.0, 0.1, 0.1, 120 / 121 - 1]
    mean = sum(r) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    downside = math.sqrt((120 / 121 - 1) ** 2 / 4)  # one negative return, over all 4
    cagr = 1.2 ** (365 / 3) - 1  # day 0 to day 3: years = 3 / 365 (calendar time, not 4 bars)
    mdd = (121_000 - 120_000) / 121_000
    assert metrics["sharpe"] == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert metrics["sortino"] == pytest.approx(mean / downside * math.sqrt(365), rel=1e-12)
    assert metrics["cagr"] == pytest.approx(cagr, rel=1e-12)
    assert metrics["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    assert metrics["max_drawdown_duration_bars"] == 1
    assert metrics["calmar"] == pytest.approx(cagr / mdd, rel=1e-12)


def test_cagr_overflow_is_none() -> None:
    """4 one-minute bars: years = 3 / 525_600, so 1.4 ** 175_200 overflows a float → None."""
    bars = make_bars(LEVERAGE_2.rows, seconds=60)
    target = np.array([r.target for r in LEVERAGE_2.rows])
    metrics = compute_metrics(simulate(bars, target, LEVERAGE_2.spec), bars_per_year(60))
    assert metrics["cagr"] is None
    assert metrics["calmar"] is None
    assert metrics["total_return"] == pytest.approx(0.4, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# CAGR compounds over calendar time: weekday bars over two weeks, a weekend without bars between
NS_PER_DAY = DAY * 1_000_000_000
WEEKDAYS = (
    #   date        open  high  low close target
    ("2024-01-01", Row(100, 100, 100, 100, 1)),  # Mon, bar 0: flat; decides long
    ("2024-01-02", Row(100, 102, 100, 102, 1)),  # Tue, bar 1: buys 1000 at 100 (no costs); E = 102_000
    ("2024-01-03", Row(102, 104, 102, 104, 1)),  # Wed, bar 2: E = 104_000 (the peak before the drawdown)
    ("2024-01-04", Row(104, 104, 103, 103, 1)),  # Thu, bar 3: E = 103_000, drawdown 1_000 / 104_000
    ("2024-01-05", Row(103, 105, 103, 105, 1)),  # Fri, bar 4: E = 105_000
    # Sat 2024-01-06 and Sun 2024-01-07: no bars
    ("2024-01-08", Row(105, 106, 105, 106, 1)),  # Mon, bar 5: E = 106_000
    ("2024-01-09", Row(106, 108, 106, 108, 1)),  # Tue, bar 6: E = 108_000
    ("2024-01-10", Row(108, 108, 107, 107, 1)),  # Wed, bar 7: E = 107_000, drawdown 1_000 / 108_000 (smaller)
    ("2024-01-11", Row(107, 109, 107, 109, 1)),  # Thu, bar 8: E = 109_000
    ("2024-01-12", Row(109, 110, 109, 110, 1)),  # Fri, bar 9: E = 110_000, the long still open
)


def weekday_bars() -> Bars:
    rows = tuple(row for _, row in WEEKDAYS)
    days = np.array([day for day, _ in WEEKDAYS], dtype="datetime64[ns]").astype(np.int64)
    return Bars(days, *(np.array([getattr(r, c) for r in rows], dtype=np.float64)
                        for c in ("open", "high", "low", "close")), np.full(len(rows), 1_000.0))


@pytest.mark.parametrize("per_year", [365.0, 252.0], ids=["calendar", "trading_days"])
def test_cagr_compounds_over_the_calendar_days_from_the_first_bar_to_the_last(per_year: float) -> None:
    """10 bars from Mon 2024-01-01 to Fri 2024-01-12: 11 calendar days, so years = 11 / 365 — not
    10 / 365 (bars ÷ bars per 365 days) nor 10 / 252 (bars ÷ data.bars_per_year), which annualises
    Sharpe only. Growth 110_000 / 100_000 = 1.1: cagr = 1.1 ** (365 / 11) - 1 ≈ 22.63 (2,263 %)."""
    bars = weekday_bars()
    assert validate_bars(bars) == []
    target = np.array([row.target for _, row in WEEKDAYS])
    metrics = compute_metrics(simulate(bars, target, NO_COSTS), per_year)
    cagr = 1.1 ** (365 / 11) - 1
    assert metrics["total_return"] == pytest.approx(0.1, rel=1e-12)
    assert metrics["cagr"] == pytest.approx(cagr, rel=1e-12)
    assert metrics["cagr"] == pytest.approx(22.63, abs=0.005)
    assert metrics["max_drawdown"] == pytest.approx(1 / 104, rel=1e-12)
    assert metrics["calmar"] == pytest.approx(cagr * 104, rel=1e-12)


def test_cagr_of_a_warm_up_start_counts_from_the_first_simulated_bar() -> None:
    """start = 5: Mon 2024-01-01 … Fri 2024-01-05 are warm-up. Trading starts Mon 2024-01-08: at its open
    105 the position moves to x[4] = 1, buying 100_000 / 105 units; E = 100_000 * 110 / 105 at the last
    close (Fri 2024-01-12). 4 calendar days: cagr = (110 / 105) ** (365 / 4) - 1."""
    bars = weekday_bars()
    target = np.array([row.target for _, row in WEEKDAYS])
    sim = simulate(bars, target, NO_COSTS, start=5)
    assert sim.elapsed_ns == 4 * NS_PER_DAY
    metrics = compute_metrics(sim, 365.0)
    assert metrics["final_equity"] == money(CASH * 110 / 105)
    assert metrics["cagr"] == pytest.approx((110 / 105) ** (365 / 4) - 1, rel=1e-12)


def test_stop_ignores_later_targets_even_when_flat() -> None:
    """After the stop, a flat book stays flat: MDD_STOP's later targets 0.5 and 1 make no trade."""
    bars = make_bars(MDD_STOP.rows)
    target = np.array([r.target for r in MDD_STOP.rows])
    sim = simulate(bars, target, MDD_STOP.spec)
    assert sim.position.tolist()[3:] == [0.0, 0.0, 0.0]
    # Without the stop the same targets keep the long through bar 3 and resize at bar 4.
    free = simulate(bars, target, ExecutionSpec(fee_bps=0))
    assert len(free.trades) == 3


@pytest.mark.parametrize(
    ("target", "start", "message"),
    [
        (np.zeros(4), 0, "shape"),
        (np.zeros(5), 5, "start 5 outside"),
        (np.zeros(5), -1, "start -1 outside"),
    ],
    ids=["wrong_length", "start_past_end", "negative_start"],
)
def test_simulate_rejects_bad_arguments(target: np.ndarray, start: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(make_bars(LONG_EXIT.rows), target, ExecutionSpec(), start=start)
