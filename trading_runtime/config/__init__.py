"""Config models (pydantic v2, strict) and the loader: the only place that turns files into models."""

from trading_runtime.config.backtest import (
    BacktestConfig,
    DataConfig,
    ExecutionConfig,
    OutputConfig,
    RiskConfig,
    StrategyConfig,
)
from trading_runtime.config.loading import (
    config_sha256,
    load_model,
    load_model_bytes,
    parse_json_bytes,
    read_file_bytes,
    render_validation_error,
    validate_model,
)

__all__ = [
    "BacktestConfig", "DataConfig", "ExecutionConfig", "OutputConfig", "RiskConfig", "StrategyConfig",
    "config_sha256", "load_model", "load_model_bytes", "parse_json_bytes", "read_file_bytes",
    "render_validation_error",
    "validate_model",
]
