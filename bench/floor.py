"""The "floor": a minimal single-pass SmaCross backtest, the reference the engine is measured against.

One compiled function walks the bars once. At each bar it acts on the previous close's target at
this open (exit leg, then entry leg, exactly as framework/README.md "Execution semantics"), marks
equity at the close, accumulates every metric, then updates the two rolling SMAs with the close and
decides the next target (long while SMA(fast) > SMA(slow)). The rolling sums repeat the arithmetic
of the framework's ``features._rolling_mean`` (a running sum whose every add and subtract is a
TwoSum, the rounding errors kept in a compensation term), so the SMAs, hence the targets, are
bit-identical to ``FeatureCache.sma``. If that function's arithmetic changes, ``floor_sma`` (the
same recurrence, as an array) stops matching it and ``engine.py`` says so. Only the return variance
is accumulated differently (one pass of sum and sum of squares instead of two passes), which
differs by rounding only.

Scope: long-only targets in {0, 1}, no max-drawdown stop, ``start=0`` — what the benchmark runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _add(s, comp, v):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``s + v`` and the compensation plus its rounding error (TwoSum), as _rolling_mean does."""
    t = s + v
    bp = t - s
    return t, comp + ((s - (t - bp)) + (v - bp))


@njit(cache=True)
def floor_sma(x, window):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The floor's rolling mean as an array (NaN before ``window - 1``): to diagnose disagreements."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    s = 0.0
    comp = 0.0
    for i in range(n):
        s, comp = _add(s, comp, x[i])
        if i >= window:
            s, comp = _add(s, comp, -x[i - window])
        if i >= window - 1:
            out[i] = (s + comp) / window
    return out


@njit(cache=True)
def floor_sma_cross(open_, close, fast, slow, initial_cash, f, s):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Raw accumulators of one SmaCross backtest (see ``floor_metrics``)."""
    n = close.shape[0]
    sum_f = 0.0
    comp_f = 0.0
    sum_s = 0.0
    comp_s = 0.0
    want = 0.0  # effective target decided on the previous close
    current = 0.0  # the target the open position was opened for
    cash = initial_cash
    units = 0.0
    entry_p = 0.0
    entry_fee = 0.0
    n_trades = 0
    gross_win = 0.0
    gross_loss = 0.0
    n_wins = 0
    traded = 0.0
    fees_paid = 0.0
    prev = initial_cash
    total = 0.0
    total_sq = 0.0
    down = 0.0
    peak = initial_cash
    mdd = 0.0
    run = 0
    longest = 0
    exposed = 0
    for t in range(n):
        # --- open of bar t: act on the target decided on close t-1 (want is 0 at t = 0)
        if want != current:
            o = open_[t]
            if units != 0.0:
                p = o * (1.0 - s)
                notional = units * p
                fee = notional * f
                cash += notional - fee
                pnl = units * (p - entry_p) - (entry_fee + fee)
                if pnl > 0.0:
                    n_wins += 1
                    gross_win += pnl
                elif pnl < 0.0:
                    gross_loss -= pnl
                traded += notional
                fees_paid += fee
                units = 0.0
            if want != 0.0 and cash > 0.0:
                notional = abs(want) * cash / (1.0 + f)
                fee = notional * f
                p = o * (1.0 + s)
                units = notional / p
                cash = cash - notional - fee
                entry_p = p
                entry_fee = fee
                n_trades += 1
                traded += notional
                fees_paid += fee
            current = want
        # --- close of bar t: mark, score
        c = close[t]
        e = cash + units * c
        r = e / prev - 1.0
        prev = e
        total += r
        total_sq += r * r
        if r < 0.0:
            down += r * r
        peak = max(peak, e)
        if e < peak:
            run += 1
            longest = max(longest, run)
            dd = (peak - e) / peak
            mdd = max(mdd, dd)
        else:
            run = 0
        if units != 0.0:
            exposed += 1
        # --- update the rolling sums with close t, decide the target for open t+1
        sum_f, comp_f = _add(sum_f, comp_f, c)
        if t >= fast:
            sum_f, comp_f = _add(sum_f, comp_f, -close[t - fast])
        sum_s, comp_s = _add(sum_s, comp_s, c)
        if t >= slow:
            sum_s, comp_s = _add(sum_s, comp_s, -close[t - slow])
        if t >= slow - 1 and t >= fast - 1:
            want = 1.0 if (sum_f + comp_f) / fast > (sum_s + comp_s) / slow else 0.0
        else:
            want = 0.0
    if units != 0.0:  # open trade: marked to the last close, entry fee only
        pnl = units * (close[n - 1] - entry_p) - entry_fee
        if pnl > 0.0:
            n_wins += 1
            gross_win += pnl
        elif pnl < 0.0:
            gross_loss -= pnl
    mean = total / n
    var = (total_sq - total * mean) / (n - 1) if n > 1 else np.nan
    std = np.sqrt(var) if var > 0.0 else 0.0
    return (prev, mean, std, np.sqrt(down / n), mdd, longest, exposed, n_trades, n_wins, gross_win,
            gross_loss, traded, fees_paid)


def floor_metrics(
    raw: tuple[Any, ...], n: int, initial_cash: float, bars_per_year: float, elapsed_seconds: float
) -> dict[str, float | int | None]:
    """The README metrics from ``floor_sma_cross``'s accumulators (same None rules as the engine).
    ``elapsed_seconds``: first bar to last (CAGR compounds over calendar time in years of 365 days)."""
    (final, mean, std, downside, mdd, longest, exposed, n_trades, n_wins, gross_win, gross_loss,
     traded, fees_paid) = raw
    growth = final / initial_cash
    years = elapsed_seconds / (365 * 86400)
    cagr = None if years <= 0 else -1.0 if growth <= 0 else growth ** (1.0 / years) - 1.0
    ann = math.sqrt(bars_per_year)
    return {
        "final_equity": float(final),
        "total_return": growth - 1.0,
        "cagr": cagr,
        "sharpe": mean / std * ann if n > 1 and std > 0 else None,
        "sortino": mean / downside * ann if downside > 0 else None,
        "max_drawdown": float(mdd),
        "max_drawdown_duration_bars": int(longest),
        "calmar": cagr / mdd if cagr is not None and mdd > 0 else None,
        "n_trades": int(n_trades),
        "win_rate": n_wins / n_trades if n_trades else None,
        "profit_factor": gross_win / gross_loss if gross_loss > 0 else None,
        "exposure": exposed / n,
        "turnover": traded / initial_cash,
        "fees_paid": float(fees_paid),
    }
