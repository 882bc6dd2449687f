"""trading-framework: bars, strategy API, deterministic execution simulator, metrics (pure)."""

from trading_framework.backtest import BacktestResult, run_backtest
from trading_framework.bars import Bars, BarsViolation, MissingFieldError, validate_bars
from trading_framework.execution import ExecutionSpec, SimulationResult, Trades, simulate
from trading_framework.features import FeatureCache
from trading_framework.metrics import METRIC_NAMES, compute_metrics
from trading_framework.strategy import ParamSpace, Strategy, StrategyParams, flat_until, search_space
from trading_framework.timeframe import bars_per_year, timeframe_seconds

__version__ = "0.2.0"

__all__ = [
    "METRIC_NAMES", "BacktestResult", "Bars", "BarsViolation", "ExecutionSpec", "FeatureCache", "MissingFieldError",
    "ParamSpace", "SimulationResult", "Strategy", "StrategyParams", "Trades", "__version__",
    "bars_per_year", "compute_metrics", "flat_until", "run_backtest", "search_space", "simulate",
    "timeframe_seconds", "validate_bars",
]
