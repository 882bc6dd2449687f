"""The local all-in-one sweep: plan → every pending shard on a process pool → finalize → report (resumable)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import ExperimentInputs, build_plan, load_inputs, run_shard, warm_kernels
from trading_runtime.execution.experiment_data import ExperimentData
from trading_runtime.orchestration.pool import Progress, drain, pending_shards, pool_context, setup_worker
from trading_runtime.planning import Plan, write_plan
from trading_runtime.store import ArtifactStore, open_store

if TYPE_CHECKING:  # fan-in and report are imported in their phases (start-up: a shard needs neither)
    from trading_runtime.fanin.documents import FanInDocument

log = logging.getLogger(__name__)

# Per worker process: the plan and data, loaded once and reused for every shard it runs.
_WORKER: dict[str, Any] = {}

# (total runs, runs already complete) -> where finished runs are reported
ProgressFactory = Callable[[int, int], Progress]


@dataclass(frozen=True)
class SweepResult:
    plan: Plan
    ran: int  # shards run by this invocation (the others were complete already)
    summary_key: str
    report: str  # where report.html was written
    fanin: FanInDocument


def _init_worker(store_uri: str, plan: Plan, inputs: ExperimentInputs) -> None:
    # The store is opened anew in each worker (an S3 client must not cross a fork); plan and data are
    # the parent's (inherited under fork, pickled under spawn): no worker re-reads or re-checks the file.
    _WORKER.update(store=open_store(store_uri), plan=plan, inputs=inputs)
    setup_worker()


def _work(shard_id: str) -> tuple[str, int]:
    return shard_id, run_shard(_WORKER["store"], _WORKER["plan"], shard_id, _WORKER["inputs"])


def execute(store: ArtifactStore, plan: Plan, inputs: ExperimentInputs, workers: int,
            progress: ProgressFactory) -> int:
    """Run the pending shards; returns how many ran."""
    todo = pending_shards(store, plan)
    runs_of = {s.shard_id: len(s.run_ids) for s in plan.shards}
    skipped = len(plan.shards) - len(todo)
    if skipped:
        log.info("resume: %d of %d shards already complete", skipped, len(plan.shards))
    bar = progress(len(plan.runs), sum(runs_of[s.shard_id] for s in plan.shards) - sum(runs_of[s] for s in todo))
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


def plan_sweep(config: ExperimentConfig, source: str, cwd: Path, prefixes: tuple[str, ...],
               read: Callable[[], ExperimentData] | None = None) -> tuple[Plan, ExperimentInputs]:
    """The experiment's plan and its inputs (data loaded, strategy resolved); nothing written yet. ``read``:
    the data being read on a thread (``execution.read_ahead``; see ``load_inputs``)."""
    inputs = load_inputs(config, source, cwd, prefixes, read=read)
    return build_plan(inputs), inputs


def run_sweep(store: ArtifactStore, plan: Plan, inputs: ExperimentInputs, workers: int, progress: ProgressFactory,
              provenance: Mapping[str, Any]) -> SweepResult:
    """Write the plan (refused when another plan of the experiment is stored), run its pending shards,
    finalize, write report.html."""
    write_plan(store, plan, exclusive=True)
    t_shards = time.perf_counter()
    ran = execute(store, plan, inputs, workers, progress)
    shard_seconds = time.perf_counter() - t_shards
    log.info("shards: ran %d in %.3fs on %d worker(s)", ran, shard_seconds, workers,
             extra={"done": ran, "seconds": round(shard_seconds, 3)})
    from trading_runtime.orchestration.finalize import finalize  # fan-in and report: imported for their phase
    from trading_runtime.report import load_experiment, write_report

    # this process holds the data and the warm kernels: finalize derives the curves here, and the report
    # reads them from memory (the same arrays finalize wrote to curves.f64)
    done = finalize(store, plan.experiment_id, provenance, inputs)
    results = load_experiment(store, plan.experiment_id, curves=done.curves)
    report = write_report(results)
    assert results.fanin is not None  # finalize wrote it
    return SweepResult(plan, ran, done.summary_key, report, results.fanin)
