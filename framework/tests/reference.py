"""A plain per-bar reference of the execution simulator and its metrics, written from the README.

Deliberately naive: Python floats and lists, one loop over the bars, no numpy, no numba, nothing
imported from ``trading_framework``. The property test compares the real implementation with it,
so keep it a literal reading of framework/README.md ("Execution semantics" and "Metrics") rather
than an optimised copy of ``_kernel.py``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass


@dataclass
class RefTrade:
    entry_index: int
    side: int  # +1 long, -1 short
    units: float  # > 0
    entry_price: float
    fees: float  # entry fee, plus the exit fee once closed
    exit_index: int | None = None  # None while open
    exit_price: float | None = None  # None while open
    pnl: float | None = None

    @property
    def is_open(self) -> bool:
        return self.exit_index is None


@dataclass
class RefSimulation:
    equity: list[float]
    position: list[float]
    trades: list[RefTrade]
    traded_notional: float
    fees_paid: float
    initial_cash: float
    start: int


def effective_target(x: float, max_leverage: float, allow_short: bool) -> float:
    """README step 1: NaN → 0, clip to ±max_leverage, negative → 0 when shorts are not allowed."""
    if math.isnan(x):
        return 0.0
    x = min(max(x, -max_leverage), max_leverage)
    if x < 0 and not allow_short:
        return 0.0
    return x


def simulate_reference(
    open_: list[float],
    close: list[float],
    target: list[float],
    *,
    initial_cash: float = 100_000.0,
    fee_bps: float = 5.0,
    slippage_bps: float = 0.0,
    max_leverage: float = 1.0,
    allow_short: bool = False,
    max_drawdown: float | None = None,
    start: int = 0,
) -> RefSimulation:
    n = len(close)
    assert n >= 1 and len(open_) == n and len(target) == n and 0 <= start < n
    f = fee_bps / 1e4
    s = slippage_bps / 1e4

    cash = initial_cash
    units = 0.0  # signed: negative for a short
    held_for = 0.0  # the effective target the open position was opened for (0 when flat)
    trades: list[RefTrade] = []
    open_trade: RefTrade | None = None
    traded = 0.0
    fees_paid = 0.0
    peak = initial_cash
    stopped = False
    equity: list[float] = []
    position: list[float] = []

    for t in range(start, n):
        if t >= 1:
            wanted = 0.0 if stopped else effective_target(target[t - 1], max_leverage, allow_short)
            if wanted != held_for:
                # Exit leg: close the whole position at this open.
                if open_trade is not None:
                    u = open_trade.units
                    if open_trade.side == 1:
                        p = open_[t] * (1 - s)
                        fee = u * p * f
                        cash += u * p * (1 - f)
                    else:
                        p = open_[t] * (1 + s)
                        fee = u * p * f
                        cash -= u * p * (1 + f)
                    traded += u * p
                    fees_paid += fee
                    open_trade.exit_index = t
                    open_trade.exit_price = p
                    open_trade.fees += fee
                    if open_trade.side == 1:
                        open_trade.pnl = u * (p - open_trade.entry_price) - open_trade.fees
                    else:
                        open_trade.pnl = u * (open_trade.entry_price - p) - open_trade.fees
                    open_trade = None
                    units = 0.0
                # Entry leg: only with a non-zero target and positive cash (= equity, the book is flat).
                if wanted != 0 and cash > 0:
                    c = cash
                    notional = abs(wanted) * c / (1 + f)
                    fee = notional * f
                    if wanted > 0:
                        p = open_[t] * (1 + s)
                        u = notional / p
                        cash = c - notional - fee
                        units = u
                        side = 1
                    else:
                        p = open_[t] * (1 - s)
                        u = notional / p
                        cash = c + notional - fee
                        units = -u
                        side = -1
                    traded += notional  # = u * p
                    fees_paid += fee
                    open_trade = RefTrade(entry_index=t, side=side, units=u, entry_price=p, fees=fee)
                    trades.append(open_trade)
                held_for = wanted
        e = cash + units * close[t]
        equity.append(e)
        position.append(units)
        peak = max(peak, e)
        if max_drawdown is not None and not stopped and (peak - e) / peak >= max_drawdown:
            stopped = True

    if open_trade is not None:  # marked to the last close, no exit fee
        last = close[n - 1]
        move = last - open_trade.entry_price if open_trade.side == 1 else open_trade.entry_price - last
        open_trade.pnl = open_trade.units * move - open_trade.fees
    return RefSimulation(equity, position, trades, traded, fees_paid, initial_cash, start)


def _finite_or_none(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return x


def _ratio(a: float, b: float) -> float:
    """a / b with IEEE semantics (inf or NaN instead of ZeroDivisionError)."""
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


def _cagr_from_log_growth(final: float, cash0: float, years: float) -> float | None:
    """The constant yearly rate g with (1 + g) ** years = final / cash0, solved in log space.

    An independent derivation of the README's CAGR (metrics.py raises the growth to 1 / years):
    log(1 + g) = log(final / cash0) / years, so g = expm1((log(final) - log(cash0)) / years).
    -1.0 when the equity is wiped out (no rate brings it back), None when 1 + g is beyond the
    largest float (expm1 overflows where the power would).
    """
    if final <= 0:
        return -1.0
    log_rate = (math.log(final) - math.log(cash0)) / years
    if log_rate > math.log(sys.float_info.max):
        return None
    return _finite_or_none(math.expm1(log_rate))


def metrics_reference(sim: RefSimulation, bars_per_year: float, ts: list[int]) -> dict[str, float | int | None]:
    """The README's metrics of ``sim``; ``ts`` are the times (UTC nanoseconds) of every bar given to the
    simulation, warm-up included (CAGR's calendar time runs from ``ts[sim.start]`` to the last)."""
    eq = sim.equity
    n = len(eq)
    assert len(ts) == sim.start + n
    cash0 = sim.initial_cash
    prev = [cash0, *eq[:-1]]
    r = [_ratio(eq[t], prev[t]) - 1 for t in range(n)]
    ann = math.sqrt(bars_per_year)
    final = eq[-1]

    # README: years = calendar days from the first simulated bar to the last / 365 (bars_per_year
    # plays no part); one bar spans no time and has no growth rate.
    days = (ts[-1] - ts[sim.start]) / 1e9 / 86_400
    cagr = _cagr_from_log_growth(final, cash0, days / 365) if days > 0 else None

    returns_finite = all(math.isfinite(x) for x in r)
    sharpe: float | None = None
    sortino: float | None = None
    if returns_finite:
        mean = sum(r) / n
        if n >= 2:
            var = sum((x - mean) ** 2 for x in r) / (n - 1)
            std = math.sqrt(var)
            if std > 0:
                sharpe = _finite_or_none(mean / std * ann)
        downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / n)
        if downside > 0:
            sortino = _finite_or_none(mean / downside * ann)

    peak = cash0
    mdd = 0.0
    run = 0
    longest = 0
    for e in eq:
        peak = max(peak, e)
        mdd = max(mdd, (peak - e) / peak)
        run = run + 1 if e < peak else 0
        longest = max(longest, run)

    pnls = [tr.pnl for tr in sim.trades]
    assert all(p is not None for p in pnls)
    wins = [p for p in pnls if p is not None and p > 0]
    losses = [p for p in pnls if p is not None and p < 0]
    n_trades = len(pnls)
    return {
        "final_equity": _finite_or_none(final),
        "total_return": _finite_or_none(final / cash0 - 1),
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "max_drawdown_duration_bars": longest,
        "calmar": _finite_or_none(cagr / mdd) if cagr is not None and mdd > 0 else None,
        "n_trades": n_trades,
        "win_rate": len(wins) / n_trades if n_trades else None,
        "profit_factor": _finite_or_none(sum(wins) / -sum(losses)) if losses else None,
        "exposure": sum(1 for u in sim.position if u != 0) / n,
        "turnover": sim.traded_notional / cash0,
        "fees_paid": sim.fees_paid,
    }
