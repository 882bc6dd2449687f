"""What a parameter search needs from strategies and backtests, as plain data and callables.

The optimize package never imports trading_framework: the CLI hands it these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trading_framework import Strategy, search_space
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.experiment import ExperimentInputs
from trading_runtime.execution.shard import evaluate_shard
from trading_runtime.planning import Plan


def declared_space(cls: type[Strategy]) -> dict[str, dict[str, Any]]:
    """The strategy's declared parameters: type, inclusive low/high (None: unbounded), choices."""
    return {name: {"type": p.type, "low": p.low, "high": p.high,
                   "choices": None if p.choices is None else list(p.choices)}
            for name, p in search_space(cls.Params).items()}


def warmup_of(cls: type[Strategy]) -> Callable[[dict[str, Any]], int]:
    return lambda params: cls(cls.Params.model_validate(params)).warmup_bars()


def evaluate_plan(plan: Plan, inputs: ExperimentInputs) -> list[dict[str, Any]]:
    """Every run of ``plan`` evaluated in memory (no store): the run records, in plan order."""
    cfg = inputs.config
    records: list[dict[str, Any]] = []
    for shard in plan.shards:
        out = evaluate_shard(plan, shard.shard_id, cfg, inputs.bars(), inputs.strategy_cls, execution_spec(cfg),
                             cfg.data.timeframe_seconds)
        records.extend(out.result["runs"])
    return records
