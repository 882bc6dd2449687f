"""The statistics ``simulate`` computes in its pass over the bars are ``equity_stats`` of its arrays, bit for bit.

``compute_metrics`` uses the simulation's statistics when it has them and ``equity_stats`` otherwise,
so both must give the same bits (NaN where undefined) on every kind of run: long and short, leverage,
a drawdown stop, a warm-up start, the trade buffers growing, equity reaching zero.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from trading_framework import Bars, ExecutionSpec, bars_per_year, compute_metrics, simulate
from trading_framework._kernel import equity_stats


def _bars(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1] * np.exp(rng.normal(0.0, 0.003, n - 1))])
    return Bars(np.arange(n, dtype=np.int64), open_, np.maximum(open_, close) * 1.001,
                np.minimum(open_, close) * 0.999, close, np.ones(n))


def _same_bits(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1.0, x) == math.copysign(1.0, y))
        for x, y in zip(a, b, strict=True))


SPECS = [
    ExecutionSpec(),
    ExecutionSpec(fee_bps=0.0, slippage_bps=3.0, allow_short=True),
    ExecutionSpec(max_leverage=2.0, allow_short=True, fee_bps=10.0),
    ExecutionSpec(max_drawdown=0.05, allow_short=True),
]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(("n", "start", "seed"), [(1, 0, 1), (2, 1, 2), (500, 0, 3), (5_000, 37, 4)])
def test_simulation_statistics_equal_equity_stats_of_its_arrays(spec: ExecutionSpec, n: int, start: int,
                                                               seed: int) -> None:
    rng = np.random.default_rng(seed + 100)
    target = rng.choice([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.nan], size=n)  # > 1,024 trades: buffers grow
    sim = simulate(_bars(n, seed), target, spec, start=start)
    assert sim.equity_stats is not None
    expected = tuple(float(x) for x in equity_stats(sim.equity, sim.position, sim.initial_cash))
    assert _same_bits(tuple(float(x) for x in sim.equity_stats), expected)
    recomputed = compute_metrics(dataclasses.replace(sim, equity_stats=None), bars_per_year(60))
    assert recomputed == compute_metrics(sim, bars_per_year(60))


@pytest.mark.parametrize("seed", range(40))
def test_drawdown_from_its_troughs_equals_the_per_bar_maximum(seed: int) -> None:
    """The kernel takes each drawdown's depth at its trough; equity_stats takes the maximum over every bar.
    Wild bars and leverage: many drawdowns, equity through zero, a drawdown still open at the end."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.3, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.3, n))
    bars = Bars(np.arange(n, dtype=np.int64), open_, np.maximum(open_, close), np.minimum(open_, close), close,
                np.ones(n))
    target = rng.choice([-8.0, -1.0, 0.0, 1.0, 5.0, 10.0, np.nan], size=n)
    spec = ExecutionSpec(max_leverage=float(rng.choice([1.0, 10.0])), allow_short=bool(seed % 2),
                         max_drawdown=[None, 0.5, 0.9][seed % 3], slippage_bps=float(seed % 4))
    sim = simulate(bars, target, spec, start=int(rng.integers(0, n)))
    assert sim.equity_stats is not None
    expected = tuple(float(x) for x in equity_stats(sim.equity, sim.position, sim.initial_cash))
    assert _same_bits(tuple(float(x) for x in sim.equity_stats), expected)


def test_zero_equity_gives_the_same_undefined_statistics() -> None:
    """A short wiped out exactly: the next return divides by zero (inf/nan in both, no exception)."""
    open_ = np.array([100.0, 100.0, 200.0, 210.0])
    close = np.array([100.0, 200.0, 210.0, 220.0])
    bars = Bars(np.arange(4, dtype=np.int64), open_, np.maximum(open_, close), np.minimum(open_, close), close,
                np.ones(4))
    sim = simulate(bars, np.full(4, -1.0), ExecutionSpec(fee_bps=0, allow_short=True))
    assert sim.equity.tolist() == [100_000.0, 0.0, -10_000.0, -20_000.0]
    assert sim.equity_stats is not None
    expected = tuple(float(x) for x in equity_stats(sim.equity, sim.position, sim.initial_cash))
    assert _same_bits(tuple(float(x) for x in sim.equity_stats), expected)
    assert math.isnan(sim.equity_stats[1])


def test_a_zero_price_fill_still_raises() -> None:
    """The kernel computes with numpy's error model; a fill at a zero price raises as before."""
    one = np.ones(3)
    bars = Bars(np.arange(3, dtype=np.int64), np.array([1.0, 0.0, 1.0]), one, np.zeros(3), one, one)
    with pytest.raises(ZeroDivisionError):
        simulate(bars, np.ones(3), ExecutionSpec())
