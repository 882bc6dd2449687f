"""The deterministic execution simulator (semantics in the package README)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from trading_framework._kernel import simulate_kernel
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
    # (mean return, its std, downside deviation, max drawdown, its duration, bars exposed) of
    # ``equity``/``position`` as ``simulate`` made them (computed in the simulation's pass over the
    # bars); None: compute_metrics computes them from the arrays
    equity_stats: tuple[float, float, float, float, int, int] | None = field(default=None, repr=False)
    # nanoseconds from the first simulated bar's time (``bars.ts[start]``) to the last bar's: the
    # calendar time CAGR compounds over (0 for one bar)
    elapsed_ns: int = field(kw_only=True)


def simulate(bars: Bars, target: npt.ArrayLike, spec: ExecutionSpec, start: int = 0) -> SimulationResult:
    """Fill ``target`` (decided on each close) at the next open, from bar ``start`` on.

    Bars before ``start`` are warm-up: never traded or marked. At the open of bar ``start`` the
    position moves to the target decided on the close of bar ``start - 1``.
    """
    n = len(bars)
    tgt = np.ascontiguousarray(target, dtype=np.float64)
    if tgt.shape != (n,):
        raise ValueError(f"target has shape {tgt.shape}, expected ({n},)")
    if not 0 <= start < n:
        raise ValueError(f"start {start} outside 0..{n - 1}")
    mdd = math.nan if spec.max_drawdown is None else float(spec.max_drawdown)
    out = simulate_kernel(
        bars.open, bars.close, tgt, start, float(spec.initial_cash), spec.fee_bps / 1e4,
        spec.slippage_bps / 1e4, float(spec.max_leverage), bool(spec.allow_short), mdd,
    )
    (equity, position, entry, exit_, side, units, entry_p, exit_p, fees, pnl, traded, fees_paid, stats) = out
    trades = Trades(entry, exit_, side, units, entry_p, exit_p, fees, pnl)
    return SimulationResult(equity, position, trades, float(traded), float(fees_paid), float(spec.initial_cash), start,
                            equity_stats=stats, elapsed_ns=int(bars.ts[-1] - bars.ts[start]))
