"""trading-framework: bars, strategy API, deterministic execution simulator, metrics (pure).

The public names below are imported from their module when first used (PEP 562 ``__getattr__``), so that
importing the package, or one of its numba-free modules (``bars``, ``timeframe``, ``strategy``), does not
import numba: only the simulator, the metrics and the feature cache compile kernels (``_kernel``,
``features``). ``from trading_framework import Bars`` imports ``trading_framework.bars`` and nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trading_framework.backtest import BacktestResult, run_backtest
    from trading_framework.bars import Bars, BarsViolation, MissingFieldError, validate_bars
    from trading_framework.execution import ExecutionSpec, SimulationResult, Trades, simulate
    from trading_framework.features import FeatureCache
    from trading_framework.metrics import METRIC_NAMES, compute_metrics
    from trading_framework.strategy import ParamSpace, Strategy, StrategyParams, flat_until, search_space
    from trading_framework.timeframe import bars_per_year, timeframe_seconds

__version__ = "0.2.0"

_MODULE_OF = {
    "BacktestResult": "backtest", "run_backtest": "backtest",
    "Bars": "bars", "BarsViolation": "bars", "MissingFieldError": "bars", "validate_bars": "bars",
    "ExecutionSpec": "execution", "SimulationResult": "execution", "Trades": "execution", "simulate": "execution",
    "FeatureCache": "features",
    "METRIC_NAMES": "metrics", "compute_metrics": "metrics",
    "ParamSpace": "strategy", "Strategy": "strategy", "StrategyParams": "strategy", "flat_until": "strategy",
    "search_space": "strategy",
    "bars_per_year": "timeframe", "timeframe_seconds": "timeframe",
}

__all__ = [
    "METRIC_NAMES", "BacktestResult", "Bars", "BarsViolation", "ExecutionSpec", "FeatureCache", "MissingFieldError",
    "ParamSpace", "SimulationResult", "Strategy", "StrategyParams", "Trades", "__version__",
    "bars_per_year", "compute_metrics", "flat_until", "run_backtest", "search_space", "simulate",
    "timeframe_seconds", "validate_bars",
]


def __getattr__(name: str) -> Any:
    """A public name, from its module (imported now if it was not); the same object on every later use."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
