"""The equity curves finalize derives: exactly the runs whose curves are read, evaluated again.

A shard keeps no equity. Fan-in chooses the runs whose curves anyone reads (``fanin.curves``) and this
evaluates them through the shard's own path (``run_segment`` on the same window slice with a feature
cache of that window): by determinism the curves are bit-identical to those the shards computed.
Memory: one window's feature cache at a time (a fold's runs segment by segment) and the curves derived.
"""

from __future__ import annotations

from collections.abc import Collection

from trading_framework import Bars
from trading_runtime.config.backtest import bars_per_year
from trading_runtime.execution.backtest import execution_spec
from trading_runtime.execution.experiment import ExperimentInputs
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.shard import SEGMENTS, evaluation_order, run_segment, window_caches
from trading_runtime.planning import Plan
from trading_runtime.planning.equity_blob import Curve


def derive_curves(plan: Plan, inputs: ExperimentInputs, run_ids: Collection[str]) -> dict[tuple[str, str], Curve]:
    """(run id, segment) → (ts, equity) of every segment of the given runs of ``plan``."""
    wanted = set(run_ids)
    if not wanted:
        return {}
    start_numba()
    cfg = inputs.config
    spec = execution_spec(cfg)
    bpy = bars_per_year(cfg.data.timeframe_seconds, cfg.data.bars_per_year)
    bars = inputs.bars()
    runs = plan.run_index()
    folds = plan.fold_index()
    by_fold: dict[str, list[str]] = {}
    for run in plan.runs:
        if run.run_id in wanted:
            by_fold.setdefault(run.fold, []).append(run.run_id)
    out: dict[tuple[str, str], Curve] = {}
    for fold_id, ids in by_fold.items():
        fold = folds[fold_id]
        fold_bars = bars if isinstance(bars, Bars) else bars[str(fold.instrument)]
        for name in SEGMENTS:
            seg = getattr(fold, name)
            if seg is None:
                continue
            caches = window_caches()  # this window's only: dropped before the next one is cut
            for rid in evaluation_order(ids, runs):
                strategy = inputs.strategy_cls(inputs.strategy_cls.Params.model_validate(runs[rid].params))
                _, ts, equity = run_segment(strategy, fold_bars, seg, spec, bpy, caches)
                out[rid, name] = (ts, equity)
            caches.clear()
    return out
