"""trading-framework: bars, strategy API, deterministic execution simulator, metrics (pure)."""

from trading_framework.backtest import BacktestResult, batch_size, run_backtest, run_backtests
from trading_framework.bars import Bars, BarsViolation, validate_bars
from trading_framework.execution import EquityStats, ExecutionSpec, SimulationResult, Trades, simulate, simulate_batch
from trading_framework.features import FeatureCache
from trading_framework.metrics import METRIC_NAMES, compute_metrics, metrics_from_stats
from trading_framework.strategy import ParamSpace, Strategy, StrategyParams, flat_until, search_space
from trading_framework.timeframe import bars_per_year, timeframe_seconds

__version__ = "0.1.0"

__all__ = [
    "METRIC_NAMES", "BacktestResult", "Bars", "BarsViolation", "EquityStats", "ExecutionSpec", "FeatureCache",
    "ParamSpace", "SimulationResult", "Strategy", "StrategyParams", "Trades", "__version__", "bars_per_year",
    "batch_size", "compute_metrics", "flat_until", "metrics_from_stats", "run_backtest", "run_backtests",
    "search_space", "simulate", "simulate_batch", "timeframe_seconds", "validate_bars",
]
