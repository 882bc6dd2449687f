"""Fan-in of one experiment: verify every planned shard, write fanin.json, derive the curves that are read
(curves.json + curves.f64), then summary.json (and oos_equity.json), provenance.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_runtime.execution.curves import derive_curves
from trading_runtime.execution.experiment import ExperimentInputs, inputs_for_plan
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.fanin import collect_shards, rank_folds, summarize
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import Plan, read_plan
from trading_runtime.planning.curves import write_curves
from trading_runtime.planning.equity_blob import Curve
from trading_runtime.store import ArtifactStore, write_complete

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finalized:
    summary_key: str
    curves: Mapping[tuple[str, str], Curve]  # the derived curves (as written to curves.f64), for readers in-process


def finalize(store: ArtifactStore, experiment_id: str, provenance: Mapping[str, Any],
             inputs: ExperimentInputs | None = None, base_dir: Path | None = None,
             prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES) -> Finalized:
    """Write fanin.json, then (when every shard verifies) the curves, summary.json and provenance.json.

    Raises VerificationError (exit 3) naming every missing or failed shard; fanin.json is written first
    either way. ``provenance`` (versions and commits, metadata) goes to provenance.json.
    ``inputs``: the plan's data and strategy when the caller holds them (the sweep); else they are loaded
    as run-shard loads them (pinned to the plan's sha256; ``base_dir`` resolves relative data paths; a
    universe's instruments only those whose windows have curves to derive).
    """
    plan = read_plan(store, experiment_id)
    keys = plan.keys
    fan = collect_shards(store, plan)
    doc = fan.document()
    write_complete(store, keys.fanin, canonical_bytes(doc.model_dump(mode="json")))  # marked: validate reads it
    s, r = doc.shards, doc.runs
    log.info("fan-in %s: shards expected %d completed %d failed %d missing %d; runs expected %d completed %d",
             experiment_id, s.expected, s.completed, s.failed, s.missing, r.expected, r.completed,
             extra={"experiment": experiment_id})
    fan.require_complete()
    config = plan.config
    ranking = rank_folds(fan, config)
    curves = _derive(plan, ranking.curve_runs(), inputs, base_dir, prefixes)
    write_curves(store, keys, curves, {rid: ranking.records[rid]["fold"] for rid, _ in curves})
    summary, oos = summarize(fan, config, config.data.timeframe_seconds, ranking, curves)
    if oos is not None:
        write_complete(store, keys.oos_equity, canonical_bytes(oos))
    write_complete(store, keys.summary, canonical_bytes(summary))
    write_complete(store, keys.provenance, canonical_bytes(dict(provenance)))
    return Finalized(keys.summary, curves)


def _derive(plan: Plan, run_ids: list[str], inputs: ExperimentInputs | None, base_dir: Path | None,
            prefixes: Sequence[str]) -> dict[tuple[str, str], Curve]:
    if not run_ids:
        return {}
    t0 = time.perf_counter()
    if inputs is None:
        runs, folds = plan.run_index(), plan.fold_index()
        symbols = {str(folds[runs[rid].fold].instrument) for rid in run_ids} if plan.instruments else None
        inputs = inputs_for_plan(plan, base_dir or Path.cwd(), prefixes, symbols=symbols)
    curves = derive_curves(plan, inputs, run_ids)
    log.info("curves: derived %d series of %d runs in %.3fs", len(curves), len(run_ids), time.perf_counter() - t0,
             extra={"experiment": plan.experiment_id})
    return curves
