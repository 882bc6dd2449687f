"""One backtest: strategy targets → simulation → metrics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from trading_framework.bars import Bars, FloatArray
from trading_framework.execution import ExecutionSpec, SimulationResult, simulate, simulate_batch
from trading_framework.features import FeatureCache
from trading_framework.metrics import Metric, compute_metrics, metrics_from_stats
from trading_framework.strategy import Strategy
from trading_framework.timeframe import bars_per_year


@dataclass(frozen=True, eq=False)
class BacktestResult:
    target: FloatArray
    simulation: SimulationResult
    metrics: dict[str, Metric]

    @property
    def equity(self) -> FloatArray:
        return self.simulation.equity


def run_backtest(
    bars: Bars,
    strategy: Strategy,
    spec: ExecutionSpec,
    timeframe_seconds: int,
    features: FeatureCache | None = None,
    start: int = 0,
) -> BacktestResult:
    """Run ``strategy`` on ``bars``; bars before ``start`` only warm the indicators up.

    ``features`` must be bound to the same ``bars`` (pass one cache to many runs to share work).
    """
    features = _bound(bars, features)
    target = strategy.target(bars, features)
    sim = simulate(bars, target, spec, start=start)
    return BacktestResult(target, sim, compute_metrics(sim, bars_per_year(timeframe_seconds)))


BATCH_BYTES = 32_000_000
"""A batch's (runs × bars) float64 blocks (targets, equity, position) stay under this size each: below
glibc's largest mmap threshold (32 MiB), so the allocator recycles them instead of mapping fresh
pages for every batch."""
MAX_BATCH = 8


def batch_size(n_bars: int) -> int:
    """Runs per pass over the bars: up to ``MAX_BATCH``, fewer on long data (see ``BATCH_BYTES``)."""
    return max(1, min(MAX_BATCH, BATCH_BYTES // (8 * max(1, n_bars))))


def run_backtests(
    bars: Bars,
    strategies: Sequence[Strategy],
    spec: ExecutionSpec,
    timeframe_seconds: int,
    features: FeatureCache | None = None,
    start: int = 0,
    batch: int | None = None,
) -> Iterator[BacktestResult]:
    """``run_backtest`` of each strategy, in order, several runs per pass over the bars.

    Each result is bit-identical to ``run_backtest`` of that strategy alone. Runs are simulated
    ``batch`` at a time (default ``batch_size(len(bars))``) in one compiled pass; results are yielded
    as each batch finishes, so a caller that drops them holds one batch at a time. A result's
    equity and position are rows of its batch's block (copy the ones kept long).
    """
    features = _bound(bars, features)
    size = batch or batch_size(len(bars))
    bpy = bars_per_year(timeframe_seconds)
    for first in range(0, len(strategies), size):
        group = strategies[first:first + size]
        targets = np.empty((len(group), len(bars)))
        for row, strategy in zip(targets, group, strict=True):
            target = np.asarray(strategy.target(bars, features), dtype=np.float64)
            if target.shape != (len(bars),):
                raise ValueError(f"target has shape {target.shape}, expected ({len(bars)},)")
            row[:] = target
        for target, (sim, stats) in zip(targets, simulate_batch(bars, targets, spec, start), strict=True):
            yield BacktestResult(target, sim, metrics_from_stats(sim, stats, bpy))


def _bound(bars: Bars, features: FeatureCache | None) -> FeatureCache:
    if features is None:
        return FeatureCache(bars)
    if features.bars is not bars:
        raise ValueError("the feature cache is bound to other bars")
    return features
