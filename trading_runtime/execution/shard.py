"""run-shard: evaluate one shard's runs (per-shard feature cache) into a result document.

``evaluate_shard`` is pure given its inputs. ``write_shard`` stores the result, then its completion
marker: a shard is complete or absent, and re-running rewrites identical bytes. A shard writes no equity:
finalize re-derives the few curves anyone reads (``execution.curves``) through the same ``run_segment``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trading_framework import Bars, ExecutionSpec, FeatureCache, Strategy, compute_metrics, simulate
from trading_runtime.config.backtest import bars_per_year
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.strategy_loader import strategy_target
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.planning import ExperimentKeys, Plan, PlannedRun, Segment
from trading_runtime.planning.keys import SHARD_SCHEMA_VERSION
from trading_runtime.store import ArtifactStore, write_complete

log = logging.getLogger(__name__)

SEGMENTS = ("in_sample", "out_of_sample")
FEATURES_HELD = 4
"""Indicator arrays a window's feature cache holds at most (least recently used dropped first): with the
runs in :func:`evaluation_order`, a grid's shard with up to 2 values of its innermost parameter (the
bench's 90-run SMA grid) computes each of its features once all the same, and the cache's memory no longer
grows with the number of distinct windows in a shard (8 MB an array per million bars). 4, not 6: each array
held is 8 MB of the sweep's peak at 1M bars (349 → 334 MB for the 90-run sweep, 371 → 347 MB for
1,050 runs); shards with more inner values compute some features again (1,050-run grid: 922 SMAs instead of
712, ~2 % of its time)."""


@dataclass(frozen=True)
class ShardOutput:
    """The shard's result document: its runs' metrics (no equity: finalize derives the curves it needs)."""

    result: dict[str, Any]


def run_segment(strategy: Strategy, bars: Bars, seg: Segment, spec: ExecutionSpec, bpy: float,
                 caches: dict[tuple[int, int], tuple[Bars, FeatureCache]]) -> tuple[dict[str, Any], Any, Any]:
    key = (seg.warmup_start, seg.stop)
    if key not in caches:
        window = bars.slice(seg.warmup_start, seg.stop)
        caches[key] = (window, FeatureCache(window, FEATURES_HELD))
    window, cache = caches[key]
    target = strategy_target(strategy, window, cache)
    sim = simulate(window, target, spec, start=seg.start - seg.warmup_start)
    return compute_metrics(sim, bpy), window.ts[sim.start:], sim.equity


def window_caches() -> dict[tuple[int, int], tuple[Bars, FeatureCache]]:
    """An empty map of window → (its bars, its feature cache), as :func:`run_segment` fills it."""
    return {}


def _value_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def evaluation_order(run_ids: Sequence[str], runs: Mapping[str, PlannedRun]) -> list[str]:
    """The order a shard's runs are evaluated in: fold by fold (in order of first appearance), and within a
    fold by their params, the parameter with the most distinct values outermost and the one with the fewest
    innermost. Consecutive runs then share most features (a grid's few fast windows stay in the bounded
    cache while each slow window is used by consecutive runs). Only the order of work: the result lists
    the runs in the plan's order, and what is kept does not depend on the order."""
    folds: dict[str, list[str]] = {}
    for rid in run_ids:
        folds.setdefault(runs[rid].fold, []).append(rid)
    order: list[str] = []
    for ids in folds.values():
        names = sorted({name for rid in ids for name in runs[rid].params})
        distinct = {name: len({repr(runs[rid].params.get(name)) for rid in ids}) for name in names}
        names.sort(key=lambda name: -distinct[name])  # stable: by name among equals
        order.extend(sorted(ids, key=lambda rid: tuple(
            _value_key(runs[rid].params[name]) if name in runs[rid].params else (2, 0.0, "") for name in names)))
    return order


def evaluate_shard(
    plan: Plan,
    shard_id: str,
    config: ExperimentConfig,
    bars: Bars | Mapping[str, Bars],
    strategy_cls: type[Strategy],
    spec: ExecutionSpec,
    bar_seconds: int,
    progress: Callable[[int], None] | None = None,
    on_series: Callable[[str, str, Any, Any], None] | None = None,
) -> ShardOutput:
    """The shard's runs evaluated into its result document (run records in the plan's order). Each run's
    equity is dropped once its metrics are taken (``on_series(run_id, segment, ts, equity)`` sees it first:
    what finalize's re-derived curves are checked against)."""
    shard = plan.shard(shard_id)
    if shard is None:
        raise KeyError(shard_id)
    start_numba()
    runs = plan.run_index()
    folds = plan.fold_index()
    bpy = bars_per_year(bar_seconds, config.data.bars_per_year)
    records: list[dict[str, Any]] = []
    caches = window_caches()
    current_fold = None
    for i, rid in enumerate(evaluation_order(shard.run_ids, runs)):
        run = runs[rid]
        if run.fold != current_fold:
            caches.clear()  # one fold's windows at a time keeps memory flat
            current_fold = run.fold
        fold = folds[run.fold]
        # a universe's fold names its instrument, whose bars the run is evaluated on
        run_bars = bars if isinstance(bars, Bars) else bars[str(fold.instrument)]
        strategy = strategy_cls(strategy_cls.Params.model_validate(run.params))
        rec: dict[str, Any] = {"run_id": rid, "fold": run.fold, "params": run.params}
        for name in SEGMENTS:
            seg = getattr(fold, name)
            if seg is None:
                rec[name] = None
                continue
            metrics, ts, equity = run_segment(strategy, run_bars, seg, spec, bpy, caches)
            rec[name] = metrics
            if on_series is not None:
                on_series(rid, name, ts, equity)
        records.append(rec)
        if progress is not None:
            progress(i + 1)
    position = {rid: i for i, rid in enumerate(shard.run_ids)}
    records.sort(key=lambda rec: position[rec["run_id"]])  # the plan's order, whatever the order of work
    result = {
        "schema_version": SHARD_SCHEMA_VERSION,
        "experiment_id": plan.experiment_id,
        "shard_id": shard_id,
        "runs": records,
    }
    return ShardOutput(result)


def write_shard(store: ArtifactStore, keys: ExperimentKeys, shard_id: str, out: ShardOutput) -> str:
    """The result, then its marker (by write_complete). Returns the result's sha256."""
    t0 = time.perf_counter()
    payload = canonical_bytes(out.result)
    write_complete(store, keys.shard_result(shard_id), payload)
    store.delete(keys.shard_failure(shard_id))
    log.debug("wrote %s in %.3fs", keys.shard_result(shard_id), time.perf_counter() - t0)
    return sha256_hex(payload)
