"""Compiled single-pass kernels of the simulator and its equity statistics (see README)."""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_TRADES_CAP0 = 1024
# How many bars ahead the fills' open prices are prefetched (see _prefetch): 512 bytes, well over a
# memory latency at a few ns per bar, and within the array's pages for all but its last bars.
_PREFETCH_BARS = 64


@intrinsic
def _prefetch(typingctx: Any, arr: Any, i: Any) -> Any:  # pragma: no cover - runs when a kernel is compiled
    """A hint to the CPU to load ``arr[i]``'s cache line (LLVM ``llvm.prefetch``: read, keep, data).

    No effect on any value: it never faults, also past the end of the array. The simulation reads an
    open price only when the position changes (every few dozen bars), so each of those reads is a
    cache miss to memory that nothing prefetches (the whole run's arrays do not fit in the caches):
    ~100 ns each, about a quarter of a run's time on SmaCross at 1M bars. Prefetched while the loop
    walks the bars, they are in the cache when a fill reads them.
    """
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = builder.gep(ary.data, [context.cast(builder, args[1], idxty, types.intp)])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(arr, i), codegen


@njit(cache=True)
def _grown(a):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``a`` copied into a buffer twice as long (the tail uninitialised)."""
    b = np.empty(2 * a.shape[0], a.dtype)
    b[: a.shape[0]] = a
    return b


# One kernel: the simulation and, in the same pass over the bars, ``equity_stats``' statistics of the
# equity it marks (the same operations in the same order, so the same bits), then their second pass
# for the variance. A process loads one cached kernel for a run instead of two, and the run's equity
# is walked once more instead of twice. numpy's error model: the statistics divide by equity, which
# may be 0 (x / 0 gives inf/nan, as in equity_stats); the fills raise ZeroDivisionError explicitly on
# a zero price, as the python error model did.
@njit(cache=True, error_model="numpy")
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
    # equity_stats' accumulators
    prev = initial_cash
    total = 0.0
    down = 0.0
    mdd = 0.0
    run = 0
    longest = 0
    exposed = 0
    p_seg = initial_cash  # the peak of the current drawdown (the peak never moves during one)
    trough = initial_cash  # its lowest equity so far
    t0 = start
    while True:  # the bar loop, restarted at the bar where the trade buffers had to grow
        full = False
        for t in range(t0, n):
            _prefetch(open_, t + _PREFETCH_BARS)  # type: ignore[call-arg]  # (typingctx is numba's)
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
                            if p == 0.0:
                                raise ZeroDivisionError("float division by zero")
                            u = notional / p
                            cash = cash - notional - fee
                            units = u
                            side = 1
                        else:
                            p = o * (1.0 - s)
                            if p == 0.0:
                                raise ZeroDivisionError("float division by zero")
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
            # equity_stats' first pass, on this bar (its peak is this peak: same start, same updates)
            r = e / prev - 1.0
            total += r
            neg = r if r < 0.0 else 0.0
            down += neg * neg
            prev = e
            # equity_stats' drawdown, evaluated once per drawdown instead of on every bar: within one
            # drawdown the peak p is fixed and (p - e) / p, rounded, is non-increasing in e, so its
            # largest value is the one at the trough: the same maximum, bit for bit, without a
            # data-dependent branch on every new low (see equity_stats for the per-bar form)
            if e < peak:
                run += 1
                trough = min(trough, e)
            else:  # at the peak: the drawdown that ended here was deepest at its trough
                if run > 0:
                    longest = max(longest, run)
                    mdd = max(mdd, (p_seg - trough) / p_seg)
                    run = 0
                p_seg = peak
                trough = peak
            exposed += units != 0.0
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
    if run > 0:  # a drawdown still open at the last bar
        longest = max(longest, run)
        mdd = max(mdd, (p_seg - trough) / p_seg)
    if n_trades > 0 and t_exit[n_trades - 1] == -1:
        k = n_trades - 1
        last = close[n - 1]
        if t_side[k] == 1:
            t_pnl[k] = t_units[k] * (last - t_entry_price[k]) - t_fees[k]
        else:
            t_pnl[k] = t_units[k] * (t_entry_price[k] - last) - t_fees[k]
    m = n_trades
    n_eq = n - start
    mean = total / n_eq
    stats = (mean, _returns_std(equity, initial_cash, mean), np.sqrt(down / n_eq), mdd, longest, exposed)
    return (equity, position, t_entry[:m].copy(), t_exit[:m].copy(), t_side[:m].copy(),
            t_units[:m].copy(), t_entry_price[:m].copy(), t_exit_price[:m].copy(),
            t_fees[:m].copy(), t_pnl[:m].copy(), traded, fees_paid, stats)


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
    return mean, _returns_std(equity, initial_cash, mean), np.sqrt(down / n), mdd, longest, exposed


@njit(cache=True, error_model="numpy")
def _returns_std(equity, initial_cash, mean):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The second pass of the equity statistics: the standard deviation (ddof 1) of the bar returns around
    their ``mean`` (nan for fewer than two bars)."""
    n = equity.shape[0]
    prev = initial_cash
    sq = 0.0
    for t in range(n):
        e = equity[t]
        d = e / prev - 1.0 - mean
        sq += d * d
        prev = e
    return np.sqrt(sq / (n - 1)) if n > 1 else np.nan
