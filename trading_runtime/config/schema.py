"""JSON schemas of the config files (committed under config/schemas/, kept under a golden test)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from trading_runtime.config.backtest import BacktestConfig
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.golden.canonical import canonical_json

SCHEMAS: dict[str, type[BaseModel]] = {"backtest": BacktestConfig, "experiment": ExperimentConfig}
SCHEMA_DIR = Path(__file__).with_name("schemas")


def schema_path(kind: str) -> Path:
    """The committed schema file of a config kind."""
    return SCHEMA_DIR / f"{kind}.schema.json"


def schema_json(kind: str) -> str:
    return canonical_json(SCHEMAS[kind].model_json_schema())
