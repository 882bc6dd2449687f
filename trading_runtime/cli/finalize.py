"""Fan-in: verify every planned shard, write fanin.json and summary.json (exit 3 naming what is missing)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import artifact_id, provenance
from trading_runtime.cli.integrations import push_finalize_metrics, track_experiment
from trading_runtime.cli.logs import log_context
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import TradingRuntimeError, VerificationError
from trading_runtime.execution.experiment import read_plan
from trading_runtime.fanin import collect_shards, summarize
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import ArtifactStore, open_store, write_complete

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="store URI holding the experiment")
    parser.add_argument("--experiment", required=True, type=artifact_id, help="experiment id")


def finalize(store: ArtifactStore, experiment_id: str) -> str:
    """Write fanin.json, then (when every shard verifies) summary.json; returns the summary key."""
    plan = read_plan(store, experiment_id)
    keys = plan.keys
    fan = collect_shards(store, plan)
    doc = fan.document()
    write_complete(store, keys.fanin, canonical_bytes(doc))  # with a marker: validate reads it like the rest
    s, r = doc["shards"], doc["runs"]
    log.info("fan-in %s: shards expected %d completed %d failed %d missing %d; runs expected %d completed %d",
             experiment_id, s["expected"], s["completed"], s["failed"], s["missing"], r["expected"], r["completed"],
             extra={"experiment": experiment_id})
    if not fan.complete:
        raise VerificationError(
            f"experiment {experiment_id}: {s['completed']} of {s['expected']} shards complete "
            f"({s['failed']} failed, {s['missing']} missing); runs {r['completed']} of {r['expected']}",
            *fan.problems())
    config = ExperimentConfig.model_validate(plan.config)
    summary, oos = summarize(fan, config, config.data.timeframe_seconds)
    if oos is not None:
        write_complete(store, keys.oos_equity, canonical_bytes(oos))
    write_complete(store, keys.summary, canonical_bytes(summary))
    write_complete(store, keys.provenance, canonical_bytes(provenance()))
    return keys.summary


def _fanin_counts(store: ArtifactStore, experiment_id: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = json.loads(store.get_bytes(ExperimentKeys(experiment_id).fanin))
        return doc
    except (KeyError, ValueError, TradingRuntimeError):  # absent, unreadable, or the store is down: no counts
        return None


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with log_context(experiment=args.experiment, step="finalize"):
        failed = True
        store = None
        try:
            store = open_store(args.store, Path.cwd())
            key = finalize(store, args.experiment)
            failed = False
        finally:
            fanin = _fanin_counts(store, args.experiment) if store is not None else None
            push_finalize_metrics(args.experiment, fanin, failed, time.perf_counter() - t0)
        track_experiment(store, args.experiment)
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}\n")
    return 0
