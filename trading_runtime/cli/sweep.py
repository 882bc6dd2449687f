"""Local all-in-one: plan → every pending shard on a process pool → finalize (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import add_strategy_prefix_argument, allowed_prefixes
from trading_runtime.cli.finalize import finalize
from trading_runtime.cli.plan import describe
from trading_runtime.cli.progress import PeriodicProgress
from trading_runtime.config import load_model
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    build_plan,
    inputs_for_plan,
    load_inputs,
    read_plan,
    run_shard,
    write_plan,
)
from trading_runtime.planning import Plan
from trading_runtime.store import ArtifactStore, is_complete, open_store

log = logging.getLogger(__name__)

# Per worker process: the plan and data, loaded once and reused for every shard it runs.
_WORKER: dict[str, Any] = {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="experiment config JSON")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    parser.add_argument("--store", default=None, help="store URI (default: the config's store)")
    add_strategy_prefix_argument(parser)


def _init_worker(store_uri: str, experiment_id: str, cwd: str, prefixes: tuple[str, ...]) -> None:
    store = open_store(store_uri, Path(cwd))
    plan = read_plan(store, experiment_id)
    _WORKER.update(store=store, plan=plan, inputs=inputs_for_plan(plan, Path(cwd), prefixes))


def _work(shard_id: str) -> tuple[str, int]:
    return shard_id, run_shard(_WORKER["store"], _WORKER["plan"], shard_id, _WORKER["inputs"])


def pending_shards(store: ArtifactStore, plan: Plan) -> list[str]:
    """Shards whose completion marker does not verify (resume skips the others)."""
    keys = plan.keys
    return [s.shard_id for s in plan.shards if not is_complete(store, keys.shard_result(s.shard_id))]


class _Bar:
    """tqdm on a terminal, periodic log lines otherwise."""

    def __init__(self, total: int, initial: int, extra: dict[str, Any]) -> None:
        self.done = initial
        self._tqdm = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self._tqdm = tqdm(total=total, initial=initial, unit="run", file=sys.stderr, dynamic_ncols=True)
        self._lines = PeriodicProgress(log, total, "runs", extra, every_items=max(1, total // 20), every_seconds=5)

    def add(self, n: int) -> None:
        self.done += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        else:
            self._lines.update(self.done)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def execute(store: ArtifactStore, plan: Plan, inputs: ExperimentInputs, workers: int, cwd: Path,
            prefixes: tuple[str, ...]) -> int:
    """Run the pending shards; returns how many ran."""
    todo = pending_shards(store, plan)
    runs_of = {s.shard_id: len(s.run_ids) for s in plan.shards}
    skipped = len(plan.shards) - len(todo)
    if skipped:
        log.info("resume: %d of %d shards already complete", skipped, len(plan.shards))
    bar = _Bar(len(plan.runs), sum(runs_of[s.shard_id] for s in plan.shards) - sum(runs_of[s] for s in todo),
               {"experiment": plan.experiment_id})
    try:
        if workers <= 1 or len(todo) <= 1:
            for sid in todo:
                run_shard(store, plan, sid, inputs)
                bar.add(runs_of[sid])
            return len(todo)
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(store.uri, plan.experiment_id, str(cwd), prefixes)) as pool:
            futures: set[Future[tuple[str, int]]] = {pool.submit(_work, sid) for sid in todo}
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for f in done:
                        sid, n = f.result()
                        bar.add(n)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return len(todo)
    finally:
        bar.close()


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cwd = Path.cwd()
    prefixes = allowed_prefixes(args)
    config = load_model(ExperimentConfig, args.config, str(args.config))
    inputs = load_inputs(config, str(args.config), cwd, prefixes)
    plan = build_plan(inputs)
    sys.stderr.write(describe(plan))
    store = open_store(args.store or config.store, cwd)
    keys = plan.keys
    try:
        existing = read_plan(store, plan.experiment_id)
        if existing.shards != plan.shards:
            log.info("re-planned with another shard split: completed shards of the old split are not reused")
    except Exception:
        existing = None
    write_plan(store, plan)
    workers = args.workers or os.cpu_count() or 1
    ran = execute(store, plan, inputs_for_plan(plan, cwd, prefixes, data=inputs.data), workers, cwd, prefixes)
    key = finalize(store, plan.experiment_id)
    fanin = json.loads(store.get_bytes(keys.fanin))
    shards, runs = fanin["shards"], fanin["runs"]
    sys.stderr.write(
        f"sweep {plan.experiment_id}: ran {ran} shard(s), {shards['completed']}/{shards['expected']} complete, "
        f"{runs['completed']}/{runs['expected']} runs in {time.perf_counter() - t0:.1f}s\n")
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}\n")
    return 0
