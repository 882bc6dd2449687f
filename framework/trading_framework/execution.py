"""The deterministic execution simulator (semantics in the package README)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from trading_framework._kernel import simulate_batch_kernel, simulate_kernel
from trading_framework.bars import Bars, FloatArray, IntArray


class ExecutionSpec(BaseModel):
    """Costs and risk limits of a simulation. Fees and slippage in basis points (1 bp = 0.01 %)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_cash: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    fee_bps: float = Field(5.0, ge=0, le=10_000, allow_inf_nan=False)
    slippage_bps: float = Field(0.0, ge=0, lt=10_000, allow_inf_nan=False)
    max_leverage: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
    allow_short: bool = False
    max_drawdown: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)


@dataclass(frozen=True, eq=False)
class Trades:
    """One row per entry, in time order; indices are positions in the bars given to ``simulate``."""

    entry_index: IntArray
    exit_index: IntArray  # -1 while open
    side: IntArray  # +1 long, -1 short
    units: FloatArray
    entry_price: FloatArray
    exit_price: FloatArray  # NaN while open
    fees: FloatArray
    pnl: FloatArray

    def __len__(self) -> int:
        return len(self.entry_index)

    @property
    def is_open(self) -> npt.NDArray[np.bool_]:
        return self.exit_index < 0

    def records(self, ts: IntArray) -> list[dict[str, Any]]:
        """Rows as plain dicts with timestamps (ns) instead of indices; open trades have null exits."""
        rows = []
        for i in range(len(self)):
            open_ = bool(self.exit_index[i] < 0)
            rows.append({
                "entry_time": int(ts[self.entry_index[i]]),
                "entry_price": float(self.entry_price[i]),
                "exit_time": None if open_ else int(ts[self.exit_index[i]]),
                "exit_price": None if open_ else float(self.exit_price[i]),
                "side": int(self.side[i]),
                "units": float(self.units[i]),
                "pnl": float(self.pnl[i]),
                "fees": float(self.fees[i]),
                "is_open": open_,
            })
        return rows


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Equity marked to every close and signed units held at every close (bars ``start:``)."""

    equity: FloatArray
    position: FloatArray
    trades: Trades
    traded_notional: float
    fees_paid: float
    initial_cash: float
    start: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EquityStats:
    """What the metrics need from the equity curve (``equity_stats``; see metrics.py)."""

    mean: float  # mean per-bar return
    std: float  # its standard deviation, ddof=1 (NaN for one bar)
    downside: float  # root mean square of the negative returns
    max_drawdown: float
    max_drawdown_duration: int  # bars
    exposed: int  # bars with a position


def _kernel_costs(spec: ExecutionSpec) -> tuple[float, float, float, float, bool, float]:
    mdd = math.nan if spec.max_drawdown is None else float(spec.max_drawdown)
    return (float(spec.initial_cash), spec.fee_bps / 1e4, spec.slippage_bps / 1e4, float(spec.max_leverage),
            bool(spec.allow_short), mdd)


def _check_start(n: int, start: int) -> None:
    if not 0 <= start < n:
        raise ValueError(f"start {start} outside 0..{n - 1}")


def simulate(bars: Bars, target: npt.ArrayLike, spec: ExecutionSpec, start: int = 0) -> SimulationResult:
    """Fill ``target`` (decided on each close) at the next open, from bar ``start`` on.

    Bars before ``start`` are warm-up: never traded or marked. At the open of bar ``start`` the
    position moves to the target decided on the close of bar ``start - 1``.
    """
    n = len(bars)
    tgt = np.ascontiguousarray(target, dtype=np.float64)
    if tgt.shape != (n,):
        raise ValueError(f"target has shape {tgt.shape}, expected ({n},)")
    _check_start(n, start)
    out = simulate_kernel(bars.open, bars.close, tgt, start, *_kernel_costs(spec))
    (equity, position, entry, exit_, side, units, entry_p, exit_p, fees, pnl, traded, fees_paid) = out
    trades = Trades(entry, exit_, side, units, entry_p, exit_p, fees, pnl)
    return SimulationResult(equity, position, trades, float(traded), float(fees_paid), float(spec.initial_cash), start)


def simulate_batch(bars: Bars, targets: FloatArray, spec: ExecutionSpec,
                   start: int = 0) -> list[tuple[SimulationResult, EquityStats]]:
    """``simulate`` of every row of ``targets`` (runs × bars) in one pass over the bars, with each
    run's equity statistics; each run's results are bit-identical to ``simulate`` and
    ``equity_stats`` of that row alone (the runs' arithmetic is interleaved, never mixed).

    A run's ``equity`` and ``position`` are rows of one (runs × bars) block: copy the ones kept
    long, or the block stays alive with them.
    """
    n = len(bars)
    if targets.ndim != 2 or targets.shape[1] != n or targets.dtype != np.float64:
        raise ValueError(f"targets has shape {targets.shape} and dtype {targets.dtype}, expected (runs, {n}) float64")
    _check_start(n, start)
    costs = _kernel_costs(spec)
    out = simulate_batch_kernel(bars.open, bars.close, np.ascontiguousarray(targets), start, *costs)
    (equity, position, entry, exit_, side, units, entry_p, exit_p, fees, pnl, n_trades, traded, fees_paid,
     mean, std, downside, mdd, longest, exposed) = out
    results = []
    for j in range(targets.shape[0]):
        m = int(n_trades[j])
        trades = Trades(entry[j, :m].copy(), exit_[j, :m].copy(), side[j, :m].copy(), units[j, :m].copy(),
                        entry_p[j, :m].copy(), exit_p[j, :m].copy(), fees[j, :m].copy(), pnl[j, :m].copy())
        sim = SimulationResult(equity[j], position[j], trades, float(traded[j]), float(fees_paid[j]), costs[0], start)
        stats = EquityStats(float(mean[j]), float(std[j]), float(downside[j]), float(mdd[j]), int(longest[j]),
                            int(exposed[j]))
        results.append((sim, stats))
    return results
