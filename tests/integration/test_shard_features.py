"""What a shard's feature cache holds while its runs are evaluated (issue 13): at most FEATURES_HELD arrays
per window, each SMA of the grid's shard computed once, and the same result bytes as every run on its own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

from tests.experiment_support import experiment_config
from trading_framework import Bars, FeatureCache
from trading_framework.bars import FloatArray
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import build_plan, load_inputs, run_shard
from trading_runtime.execution.shard import FEATURES_HELD
from trading_runtime.store import LocalStore

# 2 fast × 10 slow SMA windows (as a shard of bench/command.py's grid) × the walk-forward folds, in one
# shard: several folds, more SMAs than the cache holds, which the plan's order would compute twice.
CONFIG = experiment_config(sweep={"kind": "grid", "params": {"fast": [5, 10], "slow": list(range(20, 201, 20))}},
                           shards={"runs_per_shard": 1000})


def test_a_shards_caches_stay_bounded_and_compute_each_sma_once(tmp_path: Path) -> None:
    inputs = load_inputs(ExperimentConfig.model_validate(CONFIG), "exp.json", Path.cwd())
    plan = build_plan(inputs)
    base = inputs.strategy_cls
    seen: dict[int, FeatureCache] = {}
    held: list[int] = []

    class Watching(base):  # type: ignore[valid-type,misc]
        def target(self, bars: Bars, features: FeatureCache) -> FloatArray:
            seen[id(features)] = features
            out = cast(FloatArray, super().target(bars, features))
            held.append(len(features.held()))
            return out

    run_shard(LocalStore(tmp_path / "store"), plan, plan.shards[0].shard_id, replace(inputs, strategy_cls=Watching))
    caches = list(seen.values())
    assert all(cache.max_arrays == FEATURES_HELD for cache in caches)
    assert max(held) <= FEATURES_HELD == 4  # 8 MB an array at 1M bars: the bound is the sweep's peak (bench/README)
    windows = {w for run in plan.runs for w in (run.params["fast"], run.params["slow"])}
    assert len(windows) > FEATURES_HELD  # the bound is reached: eviction happens
    assert sum(cache.evictions for cache in caches) > 0
    # each cache (one window of one fold) computed each SMA its runs use once
    assert all(cache.misses == len(windows) for cache in caches)
