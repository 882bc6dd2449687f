"""The local all-in-one search: ``optimize --config F [--workers N]`` — the generation steps on this machine.

init → for each generation not yet told: ask → its pending shards on a process pool (kept for the
whole search) → tell → finalize. Every step is the cluster's step, on the same store, so an
interrupted search (any step, any shard) resumes where it stopped, and the results do not depend
on the worker count or the shard size. The study stays open in this process between the steps: a
generation's asked trials are not stored (its plan is), and told generations are stored every
``CHECKPOINT_GENERATIONS`` and when the search stops (``optimize.storage``); after a kill, the
next run asks and tells those generations again from their stored plans and shard results, with
the same outcome and without running a backtest again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.data import LoadedBars
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    inputs_for_plan,
    load_inputs,
    params_check,
    run_shard,
    warm_kernels,
)
from trading_runtime.optimize import StudyManifest, Told, init_study, study_status
from trading_runtime.optimize.storage import flush_storage
from trading_runtime.orchestration.pool import drain, pending_shards, pool_context, setup_worker
from trading_runtime.orchestration.study import ask, finalize_study, study_manifest, tell
from trading_runtime.planning import Plan, read_plan
from trading_runtime.report import load_study, write_report
from trading_runtime.store import ArtifactStore, open_store

log = logging.getLogger(__name__)

# Per pool process: the store, the latest plan and the data (loaded once for the whole search).
_WORKER: dict[str, Any] = {}


def _init_worker(store_uri: str, cwd: str, prefixes: tuple[str, ...], data: LoadedBars | None,
                 instruments: Mapping[str, LoadedBars] | None = None) -> None:
    setup_worker()
    # the bars are the parent's (inherited under fork, pickled under spawn): never re-read or re-hashed
    _WORKER.update(store=open_store(store_uri, Path(cwd)), cwd=Path(cwd), prefixes=prefixes, plan=None, data=data,
                   instruments=instruments)


def _work(experiment_id: str, shard_id: str) -> tuple[str, int]:
    store = _WORKER["store"]
    plan = _WORKER["plan"]
    if plan is None or plan.experiment_id != experiment_id:
        plan = _WORKER["plan"] = read_plan(store, experiment_id)
    inputs = inputs_for_plan(plan, _WORKER["cwd"], _WORKER["prefixes"], data=_WORKER["data"],
                             instruments=_WORKER["instruments"])
    _WORKER["data"], _WORKER["instruments"] = inputs.data, inputs.instruments
    return shard_id, run_shard(store, plan, shard_id, inputs)


class ShardEvaluator:
    """Runs a plan's pending shards, in process or on a pool that lives for the whole search."""

    def __init__(self, store: ArtifactStore, inputs: ExperimentInputs, workers: int, cwd: Path,
                 prefixes: tuple[str, ...]) -> None:
        self.store, self.inputs, self.workers, self.cwd, self.prefixes = store, inputs, workers, cwd, prefixes
        self._pool: ProcessPoolExecutor | None = None

    def run(self, plan: Plan) -> int:
        todo = pending_shards(self.store, plan)
        if len(plan.shards) > len(todo):
            log.info("resume: %d of %d shards of %s already complete", len(plan.shards) - len(todo),
                     len(plan.shards), plan.experiment_id)
        if self.workers <= 1 or len(todo) <= 1:
            inputs = inputs_for_plan(plan, self.cwd, self.prefixes, data=self.inputs.data,
                                     instruments=self.inputs.instruments)
            for sid in todo:
                run_shard(self.store, plan, sid, inputs)
            return len(todo)
        if self._pool is None:
            warm_kernels(plan, inputs_for_plan(plan, self.cwd, self.prefixes, data=self.inputs.data,
                                               instruments=self.inputs.instruments))
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=pool_context(),
                                             initializer=_init_worker,
                                             initargs=(self.store.uri, str(self.cwd), self.prefixes, self.inputs.data,
                                                       self.inputs.instruments))
        try:
            drain(self._pool, {self._pool.submit(_work, plan.experiment_id, sid) for sid in todo}, lambda _: None)
        except KeyboardInterrupt:
            self.close()
            raise
        return len(todo)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass(frozen=True)
class SearchResult:
    manifest: StudyManifest
    created: bool  # a new study (else resumed)
    generations: int  # generations run by this invocation
    shards: int  # shards run by this invocation
    next_generation: int | None  # None: every generation told, results and report written
    results_key: str | None  # the results folder (when finalized)
    report: str | None  # where report.html was written (when finalized)


def run_search(config: ExperimentConfig, source: str, store: ArtifactStore, cwd: Path, prefixes: tuple[str, ...],
               workers: int, storage_format: str, max_generations: int | None, provenance: Mapping[str, Any],
               on_start: Callable[[StudyManifest, int], None], on_told: Callable[[Told], None]) -> SearchResult:
    """init → for each generation not yet told: ask → its pending shards → tell; then finalize and report.

    ``on_start(manifest, trials told)`` is called once the study is known, ``on_told`` after each
    generation. Stops after ``max_generations`` generations of this invocation (rerun to continue).
    """
    inputs = load_inputs(config, source, cwd, prefixes)
    manifest, created = init_study(store, study_manifest(inputs, storage_format))
    status = study_status(store, manifest)
    log.info("optimize %s (%s): %d/%d trials told, %d generations of %d, sampler %s seed %d", manifest.study_id,
             "new" if created else "resumed", status["told"], manifest.n_trials, manifest.n_generations,
             manifest.batch_size, manifest.sweep.sampler.name, manifest.sweep.sampler.seed,
             extra={"experiment": manifest.study_id})
    on_start(manifest, status["told"])
    nxt = None if status["done"] else int(status["next_generation"])
    check = params_check(inputs.strategy_cls, source)
    per = config.shards.runs_per_shard
    evaluator = ShardEvaluator(store, inputs, workers, cwd, prefixes)
    generations = shards = 0
    try:
        while nxt is not None:
            if max_generations is not None and generations >= max_generations:
                break
            plan = ask(store, manifest, nxt, check, per, durable=False)
            shards += evaluator.run(plan)
            told = tell(store, manifest, nxt, durable=False)
            on_told(told)
            nxt = told.next_generation
            generations += 1
        flush_storage(store, manifest.storage_location)
    except BaseException:
        # Store what was told in memory (best effort: the error that stopped the search is the one reported).
        with contextlib.suppress(Exception):
            flush_storage(store, manifest.storage_location)
        raise
    finally:
        evaluator.close()
    if nxt is not None:
        return SearchResult(manifest, created, generations, shards, nxt, None, None)
    key = finalize_study(store, manifest, cwd, prefixes, provenance, data=inputs.data)
    report = write_report(load_study(store, manifest.study_id))
    return SearchResult(manifest, created, generations, shards, None, key, report)
