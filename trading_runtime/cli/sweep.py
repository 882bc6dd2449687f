"""Local all-in-one: plan → every pending shard on a process pool → finalize (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import (
    add_strategy_prefix_argument,
    allowed_prefixes,
    config_argument,
    config_name,
    load_config,
    positive_int,
)
from trading_runtime.cli.finalize import finalize
from trading_runtime.cli.integrations import track_experiment
from trading_runtime.cli.logs import log_context
from trading_runtime.cli.plan import describe, log_sharding
from trading_runtime.cli.pool import drain, pending_shards, pool_context, setup_worker
from trading_runtime.cli.progress import ProgressBar, add_progress_arguments, progress_settings
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    build_plan,
    load_inputs,
    run_shard,
    warm_kernels,
    write_plan,
)
from trading_runtime.planning import Plan
from trading_runtime.report import load_experiment, write_report
from trading_runtime.store import ArtifactStore, open_store

log = logging.getLogger(__name__)

# Per worker process: the plan and data, loaded once and reused for every shard it runs.
_WORKER: dict[str, Any] = {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "experiment config JSON")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: CPU count)")
    parser.add_argument("--store", default=None, help="store URI (default: the config's store)")
    add_strategy_prefix_argument(parser)
    add_progress_arguments(parser)


def _init_worker(store_uri: str, plan: Plan, inputs: ExperimentInputs) -> None:
    # The store is opened anew in each worker (an S3 client must not cross a fork); plan and data are
    # the parent's (inherited under fork, pickled under spawn): no worker re-reads or re-checks the file.
    _WORKER.update(store=open_store(store_uri), plan=plan, inputs=inputs)
    setup_worker()


def _work(shard_id: str) -> tuple[str, int]:
    return shard_id, run_shard(_WORKER["store"], _WORKER["plan"], shard_id, _WORKER["inputs"])


def execute(store: ArtifactStore, plan: Plan, inputs: ExperimentInputs, workers: int, cwd: Path,
            prefixes: tuple[str, ...], progress_every: tuple[int, float] | None = None) -> int:
    """Run the pending shards; returns how many ran."""
    todo = pending_shards(store, plan)
    runs_of = {s.shard_id: len(s.run_ids) for s in plan.shards}
    skipped = len(plan.shards) - len(todo)
    if skipped:
        log.info("resume: %d of %d shards already complete", skipped, len(plan.shards))
    every, seconds = progress_every or (max(1, len(plan.runs) // 20), 5.0)  # sweep: ~20 lines a run
    bar = ProgressBar(log, len(plan.runs), "runs", initial=sum(runs_of[s.shard_id] for s in plan.shards)
                      - sum(runs_of[s] for s in todo), every_items=every, every_seconds=seconds)
    try:
        # A memory:// store lives in this process only: worker processes would write into copies of it.
        if workers <= 1 or len(todo) <= 1 or store.uri.startswith("memory://"):
            for sid in todo:
                run_shard(store, plan, sid, inputs)
                bar.add(runs_of[sid], shard=sid)
            return len(todo)
        warm_kernels(plan, inputs)  # forked workers inherit the loaded kernels
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=pool_context(),
                                 initializer=_init_worker, initargs=(store.uri, plan, inputs)) as pool:
            # Largest shards first (stable by id): the pool hands them out in this order, so the small
            # last shard does not start late and leave the other workers idle.
            order = sorted(todo, key=lambda sid: -runs_of[sid])
            drain(pool, {pool.submit(_work, sid) for sid in order}, lambda done: bar.add(done[1], shard=done[0]))
        return len(todo)
    finally:
        bar.close()


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cwd = Path.cwd()
    prefixes = allowed_prefixes(args)
    config = load_config(ExperimentConfig, args.config)
    inputs = load_inputs(config, config_name(args.config), cwd, prefixes)
    plan = build_plan(inputs)
    log_sharding(plan)
    sys.stderr.write(describe(plan))
    store = open_store(args.store or config.store, cwd)
    keys = plan.keys
    write_plan(store, plan, exclusive=True)
    workers = args.workers or os.cpu_count() or 1
    every = progress_settings(args, max(1, len(plan.runs) // 20), 5.0)
    with log_context(experiment=plan.experiment_id):
        t_shards = time.perf_counter()
        ran = execute(store, plan, inputs, workers, cwd, prefixes, every)
        shard_seconds = time.perf_counter() - t_shards
        log.info("shards: ran %d in %.3fs on %d worker(s)", ran, shard_seconds, workers,
                 extra={"done": ran, "seconds": round(shard_seconds, 3)})
        key = finalize(store, plan.experiment_id)
        report = write_report(load_experiment(store, plan.experiment_id))
        track_experiment(store, plan.experiment_id)  # MLflow, when MLFLOW_TRACKING_URI is set
    fanin = json.loads(store.get_bytes(keys.fanin))
    shards, runs = fanin["shards"], fanin["runs"]
    sys.stderr.write(
        f"sweep {plan.experiment_id}: ran {ran} shard(s), {shards['completed']}/{shards['expected']} complete, "
        f"{runs['completed']}/{runs['expected']} runs in {time.perf_counter() - t0:.1f}s\n"
        f"report: {report}\n")
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}\n")
    return 0
