"""The curves finalize derives are the curves the shards computed, bit for bit (issue 13).

A shard keeps no equity; finalize re-evaluates the runs whose curves are read through the shard's own path
(``run_segment`` on the same window slice with a feature cache of that window). Whatever other runs shared
the cache, and in whatever order, the timestamps and the equity must be the same bytes: in- and
out-of-sample, with warm-up, on a universe's instruments, and as written to curves.f64.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.experiment_support import experiment_config
from tests.universe_support import write_universe
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.curves import derive_curves
from trading_runtime.execution.experiment import build_plan, load_inputs, run_shard
from trading_runtime.execution.shard import evaluate_shard, run_segment, window_caches
from trading_runtime.orchestration.finalize import finalize
from trading_runtime.planning import write_plan
from trading_runtime.planning.curves import stored_curves
from trading_runtime.store import LocalStore

CONFIGS: dict[str, dict[str, Any]] = {
    # 12 pairs × 5 walk-forward folds, auto warm-up (120 bars), shards of 7
    "walk_forward": experiment_config(),
    "holdout": experiment_config(validation={"kind": "holdout", "test_fraction": 0.25}, shards={"runs_per_shard": 5}),
    "full": experiment_config(validation={"kind": "full"}, warmup_bars=200, shards={"runs_per_shard": 4}),
}


def _config(name: str, tmp: Path) -> dict[str, Any]:
    if name != "universe":
        return CONFIGS[name]
    bars = write_universe(tmp / "bars")["AAA"].parent
    return experiment_config(data={"path": None, "end": None, "instruments": str(bars / "*.csv")},
                             sweep={"kind": "grid", "params": {"fast": [5, 20], "slow": [60, 120]}},
                             validation={"kind": "holdout", "test_fraction": 0.3}, shards={"runs_per_shard": 5})


def _bytes(curve: tuple[Any, Any]) -> tuple[bytes, bytes]:
    ts, equity = curve
    assert ts.dtype == np.int64 and equity.dtype == np.float64
    return np.ascontiguousarray(ts, dtype="<i8").tobytes(), np.ascontiguousarray(equity, dtype="<f8").tobytes()


@pytest.mark.parametrize("name", [*sorted(CONFIGS), "universe"])
def test_derived_curves_are_bitwise_the_ones_a_shard_computes(tmp_path: Path, name: str) -> None:
    inputs = load_inputs(ExperimentConfig.model_validate(_config(name, tmp_path)), "exp.json", Path.cwd())
    plan = build_plan(inputs)
    cfg = inputs.config
    computed: dict[tuple[str, str], tuple[bytes, bytes]] = {}

    def keep(run_id: str, segment: str, ts: Any, equity: Any) -> None:
        computed[run_id, segment] = _bytes((ts, equity))

    for shard in plan.shards:
        evaluate_shard(plan, shard.shard_id, cfg, inputs.bars(), inputs.strategy_cls, execution_spec(cfg),
                       cfg.data.timeframe_seconds, on_series=keep)
    segments = 1 if name == "full" else 2
    assert len(computed) == segments * len(plan.runs)

    every = derive_curves(plan, inputs, [run.run_id for run in plan.runs])
    assert {key: _bytes(curve) for key, curve in every.items()} == computed
    # a few runs only (another cache state and order than any shard's): the same bytes
    some = [run.run_id for run in plan.runs[1::3]]
    derived = derive_curves(plan, inputs, list(reversed(some)))
    assert sorted(derived) == sorted((rid, seg) for rid in some for seg in ("in_sample", "out_of_sample")[:segments])
    assert {key: _bytes(curve) for key, curve in derived.items()} == {key: computed[key] for key in derived}

    # what finalize writes to curves.f64 reads back as the same bytes
    store = LocalStore(tmp_path / "store")
    write_plan(store, plan, exclusive=True)
    for shard in plan.shards:
        run_shard(store, plan, shard.shard_id, inputs)
    finalize(store, plan.experiment_id, {}, inputs=inputs)
    stored = stored_curves(store, plan.keys)
    assert stored.entries
    read = stored.read(list(stored.entries))
    assert {key: _bytes(curve) for key, curve in read.items()} == {key: computed[key] for key in read}


def test_deriving_holds_one_window_feature_cache_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = load_inputs(ExperimentConfig.model_validate(CONFIGS["walk_forward"]), "exp.json", Path.cwd())
    plan = build_plan(inputs)
    made: list[dict[Any, Any]] = []
    held: list[int] = []

    def caches() -> Any:
        made.append(window_caches())
        return made[-1]

    def counted_run(*args: Any) -> Any:
        out = run_segment(*args)
        held.append(sum(len(c) for c in made))  # windows whose bars and feature cache are still referenced
        return out

    monkeypatch.setattr("trading_runtime.execution.curves.window_caches", caches)
    monkeypatch.setattr("trading_runtime.execution.curves.run_segment", counted_run)
    derived = derive_curves(plan, inputs, [run.run_id for run in plan.runs[::2]])
    assert len(derived) == 2 * len(plan.runs[::2])
    assert len(made) == 2 * len(plan.folds)  # one cache per window (each fold's two segments)
    assert held and max(held) == 1
