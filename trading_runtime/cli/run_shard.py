"""Evaluate one shard of a planned experiment and write its result and completion marker."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from trading_runtime.cli.common import add_strategy_prefix_argument, allowed_prefixes
from trading_runtime.cli.progress import PeriodicProgress
from trading_runtime.execution.experiment import inputs_for_plan, read_plan, run_shard
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="store URI holding the plan")
    parser.add_argument("--experiment", required=True, help="experiment id (printed by plan)")
    parser.add_argument("--shard", required=True, help="shard id, e.g. shard-00003")
    add_strategy_prefix_argument(parser)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    store = open_store(args.store, Path.cwd())
    plan = read_plan(store, args.experiment)
    inputs = inputs_for_plan(plan, Path.cwd(), allowed_prefixes(args))
    spec = plan.shard(args.shard)
    total = len(spec.run_ids) if spec else 0
    ctx = {"experiment": plan.experiment_id, "shard": args.shard}
    log.info("run-shard %s: %d runs", args.shard, total, extra=ctx)
    progress = PeriodicProgress(log, total, "runs", ctx)
    n = run_shard(store, plan, args.shard, inputs, progress.update)
    log.info("shard %s complete: %d runs in %.2fs", args.shard, n, time.perf_counter() - t0, extra=ctx)
    return 0
