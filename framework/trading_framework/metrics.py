"""Performance metrics of a simulation (definitions in the package README)."""

from __future__ import annotations

import math

import numpy as np

from trading_framework._kernel import equity_stats
from trading_framework.execution import SimulationResult
from trading_framework.timeframe import SECONDS_PER_YEAR

NS_PER_YEAR = SECONDS_PER_YEAR * 1_000_000_000  # 365 days: CAGR's year (freqtrade's days_passed / 365)

METRIC_NAMES = (
    "final_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_duration_bars", "calmar", "n_trades", "win_rate", "profit_factor",
    "exposure", "turnover", "fees_paid",
)

Metric = float | int | None


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def compute_metrics(sim: SimulationResult, bars_per_year: float) -> dict[str, Metric]:
    """Every metric of ``METRIC_NAMES``; undefined values are None.

    ``bars_per_year`` annualises Sharpe and Sortino. CAGR compounds over the calendar time the
    simulation spans (``sim.elapsed_ns``, first to last bar, in years of 365 days), whatever the bars'
    count or spacing: undefined (None) for one bar.
    """
    equity = sim.equity
    n = len(equity)
    cash0 = sim.initial_cash
    stats = sim.equity_stats  # from simulate's pass; for a result built otherwise, from the arrays
    if stats is None:
        stats = equity_stats(equity, sim.position, cash0)
    mean, std, downside, mdd, longest, exposed = stats
    final = float(equity[-1])
    years = sim.elapsed_ns / NS_PER_YEAR
    growth = final / cash0
    cagr: float | None
    if years <= 0:
        cagr = None
    elif growth <= 0:
        cagr = -1.0
    else:
        try:
            cagr = _finite(growth ** (1.0 / years) - 1.0)
        except OverflowError:
            cagr = None
    ann = math.sqrt(bars_per_year)
    sharpe = _finite(mean / std * ann) if n > 1 and std > 0 else None
    sortino = _finite(mean / downside * ann) if downside > 0 else None
    pnl = sim.trades.pnl
    n_trades = len(pnl)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    win_rate = float(len(wins) / n_trades) if n_trades else None
    loss_sum = float(-np.sum(losses)) if len(losses) else 0.0
    profit_factor = _finite(float(np.sum(wins)) / loss_sum) if loss_sum > 0 else None
    calmar = _finite(cagr / mdd) if (cagr is not None and mdd > 0) else None
    return {
        "final_equity": _finite(final),
        "total_return": _finite(growth - 1.0),
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": _finite(float(mdd)),
        "max_drawdown_duration_bars": int(longest),
        "calmar": calmar,
        "n_trades": int(n_trades),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "exposure": float(exposed / n),
        "turnover": _finite(sim.traded_notional / cash0),
        "fees_paid": _finite(sim.fees_paid),
    }
