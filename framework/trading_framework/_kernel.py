"""Compiled single-pass kernels of the simulator and its equity statistics (see README)."""

from __future__ import annotations

import numpy as np
from numba import njit

_TRADES_CAP0 = 1024


@njit(cache=True)
def _grown(a):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``a`` copied into a buffer twice as long (the tail uninitialised)."""
    b = np.empty(2 * a.shape[0], a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def simulate_kernel(open_, close, target, start, initial_cash, f, s, max_leverage, allow_short, max_drawdown):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = close.shape[0]
    equity = np.empty(n - start)
    position = np.empty(n - start)
    # Trade buffers start small and double when full (8 buffers of n elements, allocated and
    # freed by every run, cost more than the trades need).
    cap = min(n - start + 1, _TRADES_CAP0)
    t_entry = np.empty(cap, np.int64)
    t_exit = np.empty(cap, np.int64)
    t_side = np.empty(cap, np.int64)
    t_units = np.empty(cap)
    t_entry_price = np.empty(cap)
    t_exit_price = np.empty(cap)
    t_fees = np.empty(cap)
    t_pnl = np.empty(cap)
    use_stop = max_drawdown == max_drawdown  # NaN means no stop
    cash = initial_cash
    units = 0.0  # signed
    current = 0.0  # the effective target the open position was opened for
    peak = initial_cash
    stopped = False
    k = -1
    n_trades = 0
    traded = 0.0
    fees_paid = 0.0
    t0 = start
    while True:  # the bar loop, restarted at the bar where the trade buffers had to grow
        full = False
        for t in range(t0, n):
            if t > 0:
                if stopped:
                    want = 0.0
                else:
                    want = target[t - 1]
                    if want != want:
                        want = 0.0
                    if want > max_leverage:
                        want = max_leverage
                    elif want < -max_leverage:
                        want = -max_leverage
                    if want < 0.0 and not allow_short:
                        want = 0.0
                if want != current:
                    if n_trades == cap:  # grow before this bar changes any state, then redo it
                        full = True
                        break
                    o = open_[t]
                    if units != 0.0:
                        if units > 0.0:
                            p = o * (1.0 - s)
                            u = units
                            notional = u * p
                            fee = notional * f
                            cash += notional - fee
                            pnl_gross = u * (p - t_entry_price[k])
                        else:
                            p = o * (1.0 + s)
                            u = -units
                            notional = u * p
                            fee = notional * f
                            cash -= notional + fee
                            pnl_gross = u * (t_entry_price[k] - p)
                        t_exit[k] = t
                        t_exit_price[k] = p
                        t_fees[k] += fee
                        t_pnl[k] = pnl_gross - t_fees[k]
                        traded += notional
                        fees_paid += fee
                        units = 0.0
                    if want != 0.0 and cash > 0.0:
                        notional = abs(want) * cash / (1.0 + f)
                        fee = notional * f
                        if want > 0.0:
                            p = o * (1.0 + s)
                            u = notional / p
                            cash = cash - notional - fee
                            units = u
                            side = 1
                        else:
                            p = o * (1.0 - s)
                            u = notional / p
                            cash = cash + notional - fee
                            units = -u
                            side = -1
                        k = n_trades
                        n_trades += 1
                        t_entry[k] = t
                        t_exit[k] = -1
                        t_side[k] = side
                        t_units[k] = u
                        t_entry_price[k] = p
                        t_exit_price[k] = np.nan
                        t_fees[k] = fee
                        t_pnl[k] = np.nan
                        traded += notional
                        fees_paid += fee
                    current = want
            e = cash + units * close[t]
            equity[t - start] = e
            position[t - start] = units
            peak = max(peak, e)
            if use_stop and not stopped and (peak - e) / peak >= max_drawdown:
                stopped = True
        if not full:
            break
        t0 = t
        cap *= 2
        t_entry = _grown(t_entry)
        t_exit = _grown(t_exit)
        t_side = _grown(t_side)
        t_units = _grown(t_units)
        t_entry_price = _grown(t_entry_price)
        t_exit_price = _grown(t_exit_price)
        t_fees = _grown(t_fees)
        t_pnl = _grown(t_pnl)
    if n_trades > 0 and t_exit[n_trades - 1] == -1:
        k = n_trades - 1
        last = close[n - 1]
        if t_side[k] == 1:
            t_pnl[k] = t_units[k] * (last - t_entry_price[k]) - t_fees[k]
        else:
            t_pnl[k] = t_units[k] * (t_entry_price[k] - last) - t_fees[k]
    m = n_trades
    return (equity, position, t_entry[:m].copy(), t_exit[:m].copy(), t_side[:m].copy(),
            t_units[:m].copy(), t_entry_price[:m].copy(), t_exit_price[:m].copy(),
            t_fees[:m].copy(), t_pnl[:m].copy(), traded, fees_paid)


@njit(cache=True, error_model="numpy")  # x / 0 gives inf/nan (→ None metrics), never an exception
def equity_stats(equity, position, initial_cash):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(mean r, std r ddof=1, downside deviation, max drawdown, max dd duration, bars exposed)."""
    n = equity.shape[0]
    prev = initial_cash
    total = 0.0
    down = 0.0
    peak = initial_cash
    mdd = 0.0
    run = 0
    longest = 0
    exposed = 0
    for t in range(n):
        e = equity[t]
        r = e / prev - 1.0
        total += r
        # Branch-free (the sign of r is a coin flip while a position is open); adding +0.0
        # leaves ``down`` unchanged, so the sum is the same as adding r * r only when r < 0.
        neg = r if r < 0.0 else 0.0
        down += neg * neg
        prev = e
        peak = max(peak, e)
        if e < peak:
            run += 1
            longest = max(longest, run)
            gap = peak - e
            # (peak - e) / peak can exceed mdd only if peak - e > mdd * peak: skip the division
            # when it is below that with a margin for the product's rounding (rounding is
            # monotonic, so a skipped quotient could not have been > mdd).
            bound = mdd * peak * (1.0 - 1e-9)
            if not (gap < bound and bound > 1e-290 and peak > 0.0):
                mdd = max(mdd, gap / peak)
        else:
            run = 0
        exposed += position[t] != 0.0
    mean = total / n
    prev = initial_cash
    sq = 0.0
    for t in range(n):
        e = equity[t]
        d = e / prev - 1.0 - mean
        sq += d * d
        prev = e
    std = np.sqrt(sq / (n - 1)) if n > 1 else np.nan
    return mean, std, np.sqrt(down / n), mdd, longest, exposed


@njit(cache=True)
def _grown_rows(a):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``a`` (runs × capacity) copied into a buffer with twice the capacity (the tail uninitialised)."""
    b = np.empty((a.shape[0], 2 * a.shape[1]), a.dtype)
    b[:, : a.shape[1]] = a
    return b


@njit(cache=True, error_model="numpy")
def simulate_batch_kernel(open_, close, targets, start, initial_cash, f, s, max_leverage, allow_short, max_drawdown):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``simulate_kernel`` and ``equity_stats`` for every row of ``targets`` (runs × bars) in one pass.

    Each bar is processed for every run before the next bar (the runs' dependent chains interleave,
    the bars are read once). Every run's arithmetic is that of the two single-run kernels, operation
    for operation and in the same order, so its results are bit-identical to theirs: only the
    interleaving differs. Returns the per-run arrays of both (trade arrays as runs × capacity rows
    with ``n_trades`` valid entries each).
    """
    k_runs = targets.shape[0]
    n = close.shape[0]
    m = n - start
    equity = np.empty((k_runs, m))
    position = np.empty((k_runs, m))
    cap = min(m + 1, _TRADES_CAP0)
    t_entry = np.empty((k_runs, cap), np.int64)
    t_exit = np.empty((k_runs, cap), np.int64)
    t_side = np.empty((k_runs, cap), np.int64)
    t_units = np.empty((k_runs, cap))
    t_entry_price = np.empty((k_runs, cap))
    t_exit_price = np.empty((k_runs, cap))
    t_fees = np.empty((k_runs, cap))
    t_pnl = np.empty((k_runs, cap))
    use_stop = max_drawdown == max_drawdown  # NaN means no stop
    cash = np.full(k_runs, initial_cash)
    units = np.zeros(k_runs)
    current = np.zeros(k_runs)
    peak = np.full(k_runs, initial_cash)
    stopped = np.zeros(k_runs, np.bool_)
    last = np.full(k_runs, -1, np.int64)  # index of each run's latest trade
    n_trades = np.zeros(k_runs, np.int64)
    traded = np.zeros(k_runs)
    fees_paid = np.zeros(k_runs)
    # equity_stats' accumulators
    prev = np.full(k_runs, initial_cash)
    total = np.zeros(k_runs)
    down = np.zeros(k_runs)
    mdd = np.zeros(k_runs)
    run = np.zeros(k_runs, np.int64)
    longest = np.zeros(k_runs, np.int64)
    exposed = np.zeros(k_runs, np.int64)
    t0 = start
    j0 = 0
    while True:  # the bar loop, restarted at the (bar, run) where the trade buffers had to grow
        full = False
        for t in range(t0, n):
            o = open_[t]
            c = close[t]
            for j in range(j0 if t == t0 else 0, k_runs):
                want = current[j]
                if t > 0:
                    if stopped[j]:
                        want = 0.0
                    else:
                        want = targets[j, t - 1]
                        if want != want:
                            want = 0.0
                        if want > max_leverage:
                            want = max_leverage
                        elif want < -max_leverage:
                            want = -max_leverage
                        if want < 0.0 and not allow_short:
                            want = 0.0
                u_j = units[j]
                cash_j = cash[j]
                if want != current[j]:
                    if n_trades[j] == cap:  # grow before this bar changes the run's state, then redo it
                        full = True
                        j0 = j
                        break
                    k = last[j]
                    if u_j != 0.0:
                        if u_j > 0.0:
                            p = o * (1.0 - s)
                            u = u_j
                            notional = u * p
                            fee = notional * f
                            cash_j += notional - fee
                            pnl_gross = u * (p - t_entry_price[j, k])
                        else:
                            p = o * (1.0 + s)
                            u = -u_j
                            notional = u * p
                            fee = notional * f
                            cash_j -= notional + fee
                            pnl_gross = u * (t_entry_price[j, k] - p)
                        t_exit[j, k] = t
                        t_exit_price[j, k] = p
                        t_fees[j, k] += fee
                        t_pnl[j, k] = pnl_gross - t_fees[j, k]
                        traded[j] += notional
                        fees_paid[j] += fee
                        u_j = 0.0
                    if want != 0.0 and cash_j > 0.0:
                        notional = abs(want) * cash_j / (1.0 + f)
                        fee = notional * f
                        if want > 0.0:
                            p = o * (1.0 + s)
                            u = notional / p
                            cash_j = cash_j - notional - fee
                            u_j = u
                            side = 1
                        else:
                            p = o * (1.0 - s)
                            u = notional / p
                            cash_j = cash_j + notional - fee
                            u_j = -u
                            side = -1
                        k = n_trades[j]
                        last[j] = k
                        n_trades[j] = k + 1
                        t_entry[j, k] = t
                        t_exit[j, k] = -1
                        t_side[j, k] = side
                        t_units[j, k] = u
                        t_entry_price[j, k] = p
                        t_exit_price[j, k] = np.nan
                        t_fees[j, k] = fee
                        t_pnl[j, k] = np.nan
                        traded[j] += notional
                        fees_paid[j] += fee
                    current[j] = want
                    units[j] = u_j
                    cash[j] = cash_j
                e = cash_j + u_j * c
                equity[j, t - start] = e
                position[j, t - start] = u_j
                pk = max(peak[j], e)
                peak[j] = pk
                if use_stop and not stopped[j] and (pk - e) / pk >= max_drawdown:
                    stopped[j] = True
                # equity_stats, first pass (its peak is the same sequence as the stop's)
                r = e / prev[j] - 1.0
                total[j] += r
                neg = r if r < 0.0 else 0.0
                down[j] += neg * neg
                prev[j] = e
                if e < pk:
                    run[j] += 1
                    longest[j] = max(longest[j], run[j])
                    gap = pk - e
                    bound = mdd[j] * pk * (1.0 - 1e-9)
                    if not (gap < bound and bound > 1e-290 and pk > 0.0):
                        mdd[j] = max(mdd[j], gap / pk)
                else:
                    run[j] = 0
                exposed[j] += u_j != 0.0
            if full:
                break
        if not full:
            break
        t0 = t
        cap *= 2
        t_entry = _grown_rows(t_entry)
        t_exit = _grown_rows(t_exit)
        t_side = _grown_rows(t_side)
        t_units = _grown_rows(t_units)
        t_entry_price = _grown_rows(t_entry_price)
        t_exit_price = _grown_rows(t_exit_price)
        t_fees = _grown_rows(t_fees)
        t_pnl = _grown_rows(t_pnl)
    for j in range(k_runs):
        nt = n_trades[j]
        if nt > 0 and t_exit[j, nt - 1] == -1:
            k = nt - 1
            lc = close[n - 1]
            if t_side[j, k] == 1:
                t_pnl[j, k] = t_units[j, k] * (lc - t_entry_price[j, k]) - t_fees[j, k]
            else:
                t_pnl[j, k] = t_units[j, k] * (t_entry_price[j, k] - lc) - t_fees[j, k]
    # equity_stats, second pass: the standard deviation around the mean
    mean = total / m
    sq = np.zeros(k_runs)
    prev[:] = initial_cash
    for t in range(m):
        for j in range(k_runs):
            e = equity[j, t]
            d = e / prev[j] - 1.0 - mean[j]
            sq[j] += d * d
            prev[j] = e
    std = np.sqrt(sq / (m - 1)) if m > 1 else np.full(k_runs, np.nan)
    downside = np.sqrt(down / m)
    return (equity, position, t_entry, t_exit, t_side, t_units, t_entry_price, t_exit_price, t_fees, t_pnl,
            n_trades, traded, fees_paid, mean, std, downside, mdd, longest, exposed)
