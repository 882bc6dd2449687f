"""What a shard keeps alive while its runs are evaluated (issue 13): the equity series of the runs that are in
the top K at that moment, nothing more — a run's series that is not kept is gone before the next run's
simulation allocates its own (8 MB per million bars)."""

from __future__ import annotations

import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from tests.experiment_support import experiment_config
from trading_framework import Bars, FeatureCache
from trading_framework import simulate as real_simulate
from trading_framework.bars import FloatArray
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import build_plan, load_inputs, run_shard
from trading_runtime.store import LocalStore

TOP_K = 2
CONFIG = experiment_config(sweep={"kind": "grid", "params": {"fast": [5, 10, 15, 20], "slow": [30, 60, 90, 120, 150]}},
                           validation={"kind": "full"}, shards={"runs_per_shard": 1000}, report={"top_k": TOP_K},
                           objective={"metric": "sharpe", "direction": "maximize"})


def test_only_the_top_k_runs_equity_outlives_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = load_inputs(ExperimentConfig.model_validate(CONFIG), "exp.json", Path.cwd())
    plan = build_plan(inputs)
    equities: list[weakref.ref[Any]] = []
    alive_at_each_run: list[int] = []

    def simulate(*args: Any, **kwargs: Any) -> Any:  # the real simulation; only remembers its equity array
        sim = real_simulate(*args, **kwargs)
        equities.append(weakref.ref(sim.equity))
        return sim

    class Watching(inputs.strategy_cls):  # type: ignore[name-defined,misc]
        def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
            alive_at_each_run.append(sum(ref() is not None for ref in equities))  # before this run's simulation
            return cast(FloatArray, super().target(bars, features))

    monkeypatch.setattr("trading_runtime.execution.shard.simulate", simulate)
    run_shard(LocalStore(tmp_path / "store"), plan, plan.shards[0].shard_id, replace(inputs, strategy_cls=Watching))
    assert len(alive_at_each_run) == len(plan.runs) == 20
    # one full window: a run has one series; the top K are kept, and nothing else is alive
    assert max(alive_at_each_run) == TOP_K
