"""JSON schemas of the config files (committed under config/schemas/, kept under a golden test)."""

from __future__ import annotations

from pydantic import BaseModel

from trading_runtime.config.backtest import BacktestConfig
from trading_runtime.golden.canonical import canonical_json

SCHEMAS: dict[str, type[BaseModel]] = {"backtest": BacktestConfig}


def schema_json(kind: str) -> str:
    return canonical_json(SCHEMAS[kind].model_json_schema())
