"""Local all-in-one: plan → every pending shard on a process pool → finalize (resumable)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from trading_runtime.cli.allocator import large_blocks_mapped
from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.flags import add_strategy_prefix_argument, config_argument, positive_int
from trading_runtime.cli.integrations import track_experiment
from trading_runtime.cli.logs import log_context
from trading_runtime.cli.plan import describe, log_sharding
from trading_runtime.cli.progress import ProgressBar, add_progress_arguments, progress_settings
from trading_runtime.cli.startup import collection_paused
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.data.background import Background
from trading_runtime.execution.experiment_data import ExperimentData
from trading_runtime.execution.read_ahead import config_data_reading
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "experiment config JSON")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: CPU count)")
    parser.add_argument("--store", default=None, help="store URI (default: the config's store)")
    add_strategy_prefix_argument(parser)
    add_progress_arguments(parser)


def tail_imported_meanwhile(read: Background[ExperimentData]) -> Callable[[], ExperimentData]:
    """``read`` (the data being read on a thread), called when the sweep needs the data: while they are not
    ready, it first imports what the sweep's tail runs (``orchestration.sweep.import_tail``, one module at a
    time, none once the data are ready), which this process would import after the shards (one worker) or
    before the pool forks (several). The data are then used as soon as they are there, and as before."""

    def wait() -> ExperimentData:
        if not read.ready():
            from trading_runtime.orchestration.sweep import import_tail

            with collection_paused():  # as the CLI's other imports (cli/startup.py)
                import_tail(stop=read.ready)
        return read()

    return wait


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cwd = Path.cwd()
    config = load_config(ExperimentConfig, args.config)
    source = config_name(args.config)
    # the data are read on a thread from here on, their large blocks mapped apart (cli/allocator.py)
    with large_blocks_mapped(), config_data_reading(config, source, cwd) as read:
        with collection_paused():  # numba's side (none imported yet), as the CLI's own imports (cli/startup.py)
            from trading_runtime.execution.kernel_warmup import warm_up_for_config
            from trading_runtime.orchestration.sweep import plan_sweep, run_sweep
        warm_up_for_config(config, source, allowed_prefixes(args))  # the kernels loaded, meanwhile
        plan, inputs = plan_sweep(config, source, cwd, allowed_prefixes(args), tail_imported_meanwhile(read))
    log_sharding(plan)
    sys.stderr.write(describe(plan))
    store = open_store(args.store or config.store, cwd)
    workers = args.workers or os.cpu_count() or 1
    every, seconds = progress_settings(args, max(1, len(plan.runs) // 20), 5.0)  # sweep: ~20 lines a run

    def progress(total: int, initial: int) -> ProgressBar:
        return ProgressBar(log, total, "runs", initial=initial, every_items=every, every_seconds=seconds)

    with log_context(experiment=plan.experiment_id):
        result = run_sweep(store, plan, inputs, workers, progress, provenance())
        track_experiment(store, plan.experiment_id)  # MLflow, when MLFLOW_TRACKING_URI is set
    shards, runs = result.fanin.shards, result.fanin.runs
    sys.stderr.write(
        f"sweep {plan.experiment_id}: ran {result.ran} shard(s), {shards.completed}/{shards.expected} complete, "
        f"{runs.completed}/{runs.expected} runs in {time.perf_counter() - t0:.1f}s\n"
        f"report: {result.report}\n")
    sys.stdout.write(f"{store.uri.rstrip('/')}/{result.summary_key}\n")
    return 0
