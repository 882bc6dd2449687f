"""run-shard: evaluate one shard's runs (per-shard feature cache) into a result document.

``evaluate_shard`` is pure given its inputs. ``write_shard`` stores the kept equity series, then
the result, then its completion marker: a shard is complete or absent, and re-running rewrites
identical bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from trading_framework import Bars, ExecutionSpec, FeatureCache, Strategy, compute_metrics, simulate
from trading_runtime.config.backtest import bars_per_year
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.numba_start import start_numba
from trading_runtime.execution.strategy_loader import strategy_target
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.planning import ExperimentKeys, Plan, PlannedRun, Segment
from trading_runtime.planning.equity_blob import LAYOUT, read_series
from trading_runtime.store import ArtifactStore, put_parts, write_complete

log = logging.getLogger(__name__)

SHARD_SCHEMA_VERSION = 1
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
    """The result document and the equity blob as its parts (views of the kept arrays, in blob order):
    ``write_shard`` streams them to the store, so the blob is never joined into one more copy."""

    result: dict[str, Any]
    equity_parts: tuple[memoryview, ...]

    @cached_property
    def equity(self) -> bytes:
        """The equity blob as one bytes object (for readers in memory; the store never needs it)."""
        return b"".join(self.equity_parts)


def _run_segment(strategy: Strategy, bars: Bars, seg: Segment, spec: ExecutionSpec, bpy: float,
                 caches: dict[tuple[int, int], tuple[Bars, FeatureCache]]) -> tuple[dict[str, Any], Any, Any]:
    key = (seg.warmup_start, seg.stop)
    if key not in caches:
        window = bars.slice(seg.warmup_start, seg.stop)
        caches[key] = (window, FeatureCache(window, FEATURES_HELD))
    window, cache = caches[key]
    target = strategy_target(strategy, window, cache)
    sim = simulate(window, target, spec, start=seg.start - seg.warmup_start)
    return compute_metrics(sim, bpy), window.ts[sim.start:], sim.equity


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
) -> ShardOutput:
    shard = plan.shard(shard_id)
    if shard is None:
        raise KeyError(shard_id)
    start_numba()
    runs = plan.run_index()
    folds = plan.fold_index()
    bpy = bars_per_year(bar_seconds, config.data.bars_per_year)
    objective = config.objective
    top_k = config.report.top_k
    records: list[dict[str, Any]] = []
    # Equity is kept for this shard's top-K runs per fold (by the in-sample objective, constraints met):
    # the finalizer's global top-K per fold is always among them. The top-K is kept up to date as the
    # runs go, so memory holds at most top_k runs' series per fold, not every run's.
    leaders: dict[str, list[tuple[tuple[float, str], str]]] = {}
    series: dict[str, dict[str, tuple[Any, Any]]] = {}
    caches: dict[tuple[int, int], tuple[Bars, FeatureCache]] = {}
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
        kept: dict[str, tuple[Any, Any]] = {}
        for name in SEGMENTS:
            seg = getattr(fold, name)
            if seg is None:
                rec[name] = None
                continue
            metrics, ts, equity = _run_segment(strategy, run_bars, seg, spec, bpy, caches)
            rec[name] = metrics
            kept[name] = (ts, equity)
        records.append(rec)
        key = objective.rank_key(rec["in_sample"], rid)
        if key is not None and not objective.violations(rec["in_sample"]):
            board = leaders.setdefault(run.fold, [])
            bisect.insort(board, (key, rid))
            series[rid] = kept
            if len(board) > top_k:
                del series[board.pop()[1]]
        if progress is not None:
            progress(i + 1)
    position = {rid: i for i, rid in enumerate(shard.run_ids)}
    records.sort(key=lambda rec: position[rec["run_id"]])  # the plan's order, whatever the order of work
    keep = [rid for fold_id in sorted(leaders) for _, rid in leaders[fold_id]]
    chunks: list[memoryview] = []  # views of the arrays: the blob is streamed, never joined
    index = []
    offset = 0
    ts_offsets: dict[tuple[str, str], int] = {}
    fold_of = {rec["run_id"]: rec["fold"] for rec in records}
    for rid in sorted(keep):
        for name in SEGMENTS:
            if name not in series[rid]:
                continue
            ts, equity = series[rid][name]
            window = (fold_of[rid], name)
            if window not in ts_offsets:  # a window's timestamps are written once
                ts_b = np.ascontiguousarray(ts, dtype="<i8").data.cast("B")
                ts_offsets[window] = offset
                chunks.append(ts_b)
                offset += len(ts_b)
            eq_b = np.ascontiguousarray(equity, dtype="<f8").data.cast("B")
            index.append({"run_id": rid, "segment": name, "ts_offset": ts_offsets[window], "offset": offset,
                          "length": len(ts)})
            chunks.append(eq_b)
            offset += len(eq_b)
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    result = {
        "schema_version": SHARD_SCHEMA_VERSION,
        "experiment_id": plan.experiment_id,
        "shard_id": shard_id,
        "runs": records,
        "equity": {"sha256": digest.hexdigest(), "size": offset, "series": index,
                   "layout": LAYOUT},
    }
    return ShardOutput(result, tuple(chunks))


read_equity_series = read_series  # (ts, equity) of one series of a shard's equity blob


def write_shard(store: ArtifactStore, keys: ExperimentKeys, shard_id: str, out: ShardOutput) -> str:
    """Equity, then result, then marker (by write_complete). Returns the result's sha256."""
    t0 = time.perf_counter()
    put_parts(store, keys.shard_equity(shard_id), out.equity_parts)
    payload = canonical_bytes(out.result)
    write_complete(store, keys.shard_result(shard_id), payload)
    store.delete(keys.shard_failure(shard_id))
    log.debug("wrote %s in %.3fs", keys.shard_result(shard_id), time.perf_counter() - t0)
    return sha256_hex(payload)
