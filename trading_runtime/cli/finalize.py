"""Fan-in: verify every planned shard, write fanin.json and summary.json (exit 3 naming what is missing).

On the way it derives the equity curves that are read (curves.json + curves.f64), loading the data as
run-shard does.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument, artifact_id
from trading_runtime.cli.integrations import push_finalize_metrics, track_experiment
from trading_runtime.cli.logs import log_context
from trading_runtime.errors import TradingRuntimeError
from trading_runtime.fanin.documents import FanInDocument, parse_document
from trading_runtime.orchestration.finalize import finalize
from trading_runtime.planning import ExperimentKeys
from trading_runtime.store import ArtifactStore, open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="store URI holding the experiment")
    parser.add_argument("--experiment", required=True, type=artifact_id, help="experiment id")
    add_strategy_prefix_argument(parser)  # finalize re-evaluates the runs whose equity curves are read


def _fanin_counts(store: ArtifactStore, experiment_id: str) -> FanInDocument | None:
    key = ExperimentKeys(experiment_id).fanin
    try:
        return parse_document(FanInDocument, store.get_bytes(key), f"{store.uri}/{key}")
    except (KeyError, TradingRuntimeError):  # absent, unreadable, or the store is down: no counts
        return None


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with log_context(experiment=args.experiment, step="finalize"):
        failed = True
        store = None
        try:
            store = open_store(args.store, Path.cwd())
            key = finalize(store, args.experiment, provenance(), base_dir=Path.cwd(),
                           prefixes=allowed_prefixes(args)).summary_key
            failed = False
        finally:
            fanin = _fanin_counts(store, args.experiment) if store is not None else None
            push_finalize_metrics(args.experiment, fanin, failed, time.perf_counter() - t0)
        track_experiment(store, args.experiment)
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}\n")
    return 0
