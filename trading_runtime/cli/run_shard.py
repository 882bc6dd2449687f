"""Evaluate one shard of a planned experiment and write its result and completion marker."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes
from trading_runtime.cli.flags import add_strategy_prefix_argument, artifact_id
from trading_runtime.cli.integrations import push_shard_metrics
from trading_runtime.cli.logs import log_context
from trading_runtime.cli.progress import ProgressBar, add_progress_arguments, progress_settings
from trading_runtime.cli.startup import collection_paused
from trading_runtime.execution.read_ahead import shard_inputs
from trading_runtime.planning import read_plan
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="store URI holding the plan")
    parser.add_argument("--experiment", required=True, type=artifact_id, help="experiment id (printed by plan)")
    parser.add_argument("--shard", required=True, type=artifact_id, help="shard id, e.g. shard-00003")
    add_strategy_prefix_argument(parser)
    add_progress_arguments(parser)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with log_context(experiment=args.experiment, shard=args.shard):
        done, total, failed = 0, 0, True
        try:
            store = open_store(args.store, Path.cwd())
            plan = read_plan(store, args.experiment)
            prefixes = allowed_prefixes(args)
            # the data are read on a thread from here on, while numba and the kernels load (none imported yet):
            # imports, with the collector paused as for the CLI's own (cli/startup.py)
            with collection_paused():
                inputs = shard_inputs(plan, Path.cwd(), args.shard, prefixes)
            from trading_runtime.execution.experiment import run_shard  # imported by shard_inputs
            spec = plan.shard(args.shard)
            run_ids = spec.run_ids if spec else []
            total = len(run_ids)
            log.info("run-shard %s: %d runs", args.shard, total)
            every, seconds = progress_settings(args)
            progress = ProgressBar(log, total, "runs", initial=0, every_items=every, every_seconds=seconds)

            def on_progress(n: int) -> None:
                nonlocal done
                done = n
                progress.update(n, run=run_ids[n - 1])

            try:
                n = run_shard(store, plan, args.shard, inputs, on_progress)
            finally:
                progress.close()
            failed = False
            log.info("shard %s complete: %d runs in %.2fs", args.shard, n, time.perf_counter() - t0,
                     extra={"done": n, "total": total, "seconds": round(time.perf_counter() - t0, 3)})
            return 0
        finally:
            push_shard_metrics(args.experiment, args.shard, done, total, failed, time.perf_counter() - t0)
