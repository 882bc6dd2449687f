"""A shard's order of work: fold by fold, runs sharing features next to each other, so the bounded feature
cache computes each feature of a grid's shard once (the cache's memory does not grow with the runs)."""

from __future__ import annotations

import numpy as np

from trading_framework import Bars, FeatureCache
from trading_runtime.execution.shard import FEATURES_HELD, evaluation_order
from trading_runtime.planning import PlannedRun


def grid_shard(fasts: range, slows: range, fold: str = "f0") -> dict[str, PlannedRun]:
    """An SMA-cross grid in the planner's order (fast outer, slow inner, fast < slow)."""
    pairs = [(f, s) for f in fasts for s in slows if f < s]
    return {f"r{i:04d}": PlannedRun(run_id=f"r{i:04d}", fold=fold, params={"fast": f, "slow": s})
            for i, (f, s) in enumerate(pairs)}


def misses(order: list[str], runs: dict[str, PlannedRun]) -> int:
    bars = Bars(np.arange(300, dtype=np.int64), *(np.linspace(1.0, 2.0, 300),) * 5)
    cache = FeatureCache(bars, FEATURES_HELD)
    for rid in order:
        cache.sma(runs[rid].params["fast"])
        cache.sma(runs[rid].params["slow"])
    return cache.misses


def test_most_varied_parameter_is_outermost() -> None:
    runs = grid_shard(range(5, 11, 5), range(20, 81, 20))
    order = evaluation_order(list(runs), runs)
    assert [(runs[r].params["fast"], runs[r].params["slow"]) for r in order] == [
        (5, 20), (10, 20), (5, 40), (10, 40), (5, 60), (10, 60), (5, 80), (10, 80)]


def test_bounded_cache_computes_each_feature_of_a_grid_shard_once() -> None:
    # A shard of the bench's grid: 2 fast windows × 10 slow ones, more distinct SMAs than the cache holds.
    runs = grid_shard(range(5, 11, 5), range(20, 201, 20))
    distinct = len({w for r in runs.values() for w in (r.params["fast"], r.params["slow"])})
    assert distinct > FEATURES_HELD
    assert misses(evaluation_order(list(runs), runs), runs) == distinct
    assert misses(list(runs), runs) > distinct  # the plan's order would compute some twice


def test_folds_stay_together_in_order_of_first_appearance() -> None:
    a = grid_shard(range(5, 11, 5), range(20, 41, 20), fold="b-fold")
    b = {f"x{rid}": PlannedRun(run_id=f"x{rid}", fold="a-fold", params=r.params) for rid, r in a.items()}
    runs = {**a, **b}
    ids = list(a)[:2] + list(b) + list(a)[2:]
    order = evaluation_order(ids, runs)
    assert [runs[r].fold for r in order] == ["b-fold"] * 4 + ["a-fold"] * 4
    assert sorted(order) == sorted(ids)


def test_parameters_of_mixed_types_are_ordered_without_error() -> None:
    runs = {rid: PlannedRun(run_id=rid, fold="f", params=params) for rid, params in
            (("a", {"mode": "x", "n": 2}), ("b", {"mode": 3, "n": 1}), ("c", {"n": 1}), ("d", {"mode": True, "n": 2}))}
    order = evaluation_order(list(runs), runs)
    assert sorted(order) == ["a", "b", "c", "d"]
