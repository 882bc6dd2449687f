"""One backtest: strategy targets → simulation → metrics."""

from __future__ import annotations

from dataclasses import dataclass

from trading_framework.bars import Bars, FloatArray
from trading_framework.execution import ExecutionSpec, SimulationResult, simulate
from trading_framework.features import FeatureCache
from trading_framework.metrics import Metric, compute_metrics
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
    if features is None:
        features = FeatureCache(bars)
    elif features.bars is not bars:
        raise ValueError("the feature cache is bound to other bars")
    target = strategy.target(bars, features)
    sim = simulate(bars, target, spec, start=start)
    return BacktestResult(target, sim, compute_metrics(sim, bars_per_year(timeframe_seconds)))
