"""Fan-in of one experiment: verify every planned shard, write fanin.json, derive the curves that are read
(curves.json + curves.f64), then summary.json (and oos_equity.json), provenance.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_runtime.execution.curves import derive_curves
from trading_runtime.execution.experiment import ExperimentInputs, inputs_for_plan
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.fanin import Ranking, collect_shards, rank_folds, summarize
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


@dataclass(frozen=True)
class FinalDocuments:
    """What finalize writes after fanin.json, computed and not written yet: the derived curves (for curves.f64
    and curves.json), summary.json, oos_equity.json and provenance.json as their bytes. ``write`` stores them
    in finalize's order (the curves first, summary.json after them), so a reader that trusts the summary finds
    the rest; the sweep with several workers renders its report from these while they are written."""

    store: ArtifactStore
    plan: Plan  # as stored (read back by finalize)
    fanin: bytes  # fanin.json as written
    curves: Mapping[tuple[str, str], Curve]
    fold_of: Mapping[str, str]  # run id -> its fold, for each run with curves
    summary: bytes
    oos: bytes | None
    provenance: bytes

    def write(self) -> None:
        keys = self.plan.keys
        write_curves(self.store, keys, self.curves, self.fold_of)
        if self.oos is not None:
            write_complete(self.store, keys.oos_equity, self.oos)
        write_complete(self.store, keys.summary, self.summary)
        write_complete(self.store, keys.provenance, self.provenance)

    @property
    def finalized(self) -> Finalized:
        return Finalized(self.plan.keys.summary, self.curves)


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
    docs = final_documents(store, experiment_id, provenance, inputs, base_dir, prefixes)
    docs.write()
    return docs.finalized


def final_documents(store: ArtifactStore, experiment_id: str, provenance: Mapping[str, Any],
                    inputs: ExperimentInputs | None = None, base_dir: Path | None = None,
                    prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
                    derive: Callable[[Ranking], Mapping[tuple[str, str], Curve]] | None = None) -> FinalDocuments:
    """finalize up to its last writes: fanin.json written (VerificationError, exit 3, when a shard is missing or
    failed), the curves derived and the other documents computed (see :func:`finalize`). ``derive``: how the
    curves of ``ranking.curve_runs()`` are derived, when not here (the sweep's workers)."""
    plan = read_plan(store, experiment_id)
    keys = plan.keys
    fan = collect_shards(store, plan)
    doc = fan.document()
    fanin = canonical_bytes(doc.model_dump(mode="json"))
    write_complete(store, keys.fanin, fanin)  # marked: validate reads it
    s, r = doc.shards, doc.runs
    log.info("fan-in %s: shards expected %d completed %d failed %d missing %d; runs expected %d completed %d",
             experiment_id, s.expected, s.completed, s.failed, s.missing, r.expected, r.completed,
             extra={"experiment": experiment_id})
    fan.require_complete()
    config = plan.config
    ranking = rank_folds(fan, config)
    curves = derive(ranking) if derive is not None else _derive(plan, ranking.curve_runs(), inputs, base_dir, prefixes)
    summary, oos = summarize(fan, config, config.data.timeframe_seconds, ranking, curves)
    return FinalDocuments(store, plan, fanin, curves, {rid: ranking.records[rid]["fold"] for rid, _ in curves},
                          canonical_bytes(summary), None if oos is None else canonical_bytes(oos),
                          canonical_bytes(dict(provenance)))


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
