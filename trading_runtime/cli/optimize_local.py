"""The local all-in-one: ``optimize --config F [--workers N]`` — the generation steps on this machine.

init → for each generation not yet told: ask → its pending shards on a process pool (kept for the
whole search) → tell → finalize. Every step is the cluster's step, on the same store, so an
interrupted search (any step, any shard) resumes where it stopped, and the results do not depend
on the worker count or the shard size.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import allowed_prefixes, config_name
from trading_runtime.cli.optimize_steps import _ask, _load_config, _manifest, _tell, finalize_study
from trading_runtime.cli.pool import drain, pending_shards, pool_context, setup_worker
from trading_runtime.data import LoadedBars
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    inputs_for_plan,
    load_inputs,
    params_check,
    read_plan,
    run_shard,
    warm_kernels,
)
from trading_runtime.optimize import StudyManifest, Told, generation_label, init_study, study_status
from trading_runtime.planning import Plan
from trading_runtime.report import load_study, write_report
from trading_runtime.store import ArtifactStore, open_store

log = logging.getLogger(__name__)

# Per pool process: the store, the latest plan and the data (loaded once for the whole search).
_WORKER: dict[str, Any] = {}


def _init_worker(store_uri: str, cwd: str, prefixes: tuple[str, ...], data: LoadedBars) -> None:
    setup_worker()
    # the bars are the parent's (inherited under fork, pickled under spawn): never re-read or re-hashed
    _WORKER.update(store=open_store(store_uri, Path(cwd)), cwd=Path(cwd), prefixes=prefixes, plan=None, data=data)


def _work(experiment_id: str, shard_id: str) -> tuple[str, int]:
    store = _WORKER["store"]
    plan = _WORKER["plan"]
    if plan is None or plan.experiment_id != experiment_id:
        plan = _WORKER["plan"] = read_plan(store, experiment_id)
    inputs = inputs_for_plan(plan, _WORKER["cwd"], _WORKER["prefixes"], data=_WORKER["data"])
    _WORKER["data"] = inputs.data
    return shard_id, run_shard(store, plan, shard_id, inputs)


class _TrialBar:
    """Trials told / n_trials and the best so far: tqdm on a terminal, a log line per generation otherwise."""

    def __init__(self, manifest: StudyManifest, told: int) -> None:
        self.manifest = manifest
        self.metric = manifest.sweep.objectives[0].metric
        self._tqdm = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self._tqdm = tqdm(total=manifest.n_trials, initial=told, unit="trial", file=sys.stderr,
                              dynamic_ncols=True, desc="optimize")

    def logging(self) -> contextlib.AbstractContextManager[Any]:
        """Log lines printed above the bar instead of through it."""
        if self._tqdm is None:
            return contextlib.nullcontext()
        from tqdm.contrib.logging import logging_redirect_tqdm
        redirect: contextlib.AbstractContextManager[Any] = logging_redirect_tqdm()
        return redirect

    def update(self, told: Told) -> None:
        best = "none yet" if told.best is None else f"{told.best[1]:.6g} (trial {told.best[0]})"
        if self._tqdm is not None:
            self._tqdm.update(told.told_total - self._tqdm.n)  # trials rejected at ask count too
            self._tqdm.set_postfix_str(f"best {self.metric} {best}")
        else:
            log.info("generation %s told: trials %d/%d, best %s %s", generation_label(told.generation),
                     told.told_total, self.manifest.n_trials, self.metric, best,
                     extra={"experiment": self.manifest.study_id, "generation": generation_label(told.generation),
                            "done": told.told_total, "total": self.manifest.n_trials})

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


class _Evaluator:
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
            inputs = inputs_for_plan(plan, self.cwd, self.prefixes, data=self.inputs.data)
            for sid in todo:
                run_shard(self.store, plan, sid, inputs)
            return len(todo)
        if self._pool is None:
            warm_kernels(plan, inputs_for_plan(plan, self.cwd, self.prefixes, data=self.inputs.data))
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=pool_context(),
                                             initializer=_init_worker,
                                             initargs=(self.store.uri, str(self.cwd), self.prefixes, self.inputs.data))
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


def cmd_run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cwd = Path.cwd()
    prefixes = allowed_prefixes(args)
    config = _load_config(args.config)
    inputs = load_inputs(config, config_name(args.config), cwd, prefixes)
    store = open_store(args.store or config.store, cwd)
    manifest, created = init_study(store, _manifest(inputs, args.storage_format))
    status = study_status(store, manifest)
    ctx = {"experiment": manifest.study_id}
    log.info("optimize %s (%s): %d/%d trials told, %d generations of %d, sampler %s seed %d", manifest.study_id,
             "new" if created else "resumed", status["told"], manifest.n_trials, manifest.n_generations,
             manifest.batch_size, manifest.sweep.sampler.name, manifest.sweep.sampler.seed, extra=ctx)
    nxt = None if status["done"] else int(status["next_generation"])
    check = params_check(inputs.strategy_cls, config_name(args.config))
    per = config.shards.runs_per_shard
    evaluator = _Evaluator(store, inputs, args.workers or os.cpu_count() or 1, cwd, prefixes)
    bar = _TrialBar(manifest, status["told"])
    generations = shards = 0
    try:
        with bar.logging():
            while nxt is not None:
                if args.max_generations is not None and generations >= args.max_generations:
                    break
                plan = _ask(store, manifest, nxt, check, per)
                shards += evaluator.run(plan)
                told = _tell(store, manifest, nxt)
                bar.update(told)
                nxt = told.next_generation
                generations += 1
    finally:
        evaluator.close()
        bar.close()
    if nxt is not None:
        sys.stderr.write(f"optimize {manifest.study_id}: stopped after {generations} generation(s) with "
                         f"{generation_label(nxt)} next; rerun to continue\n")
        return 0
    key = finalize_study(store, manifest, prefixes, data=inputs.data)
    report = write_report(load_study(store, manifest.study_id))
    sys.stderr.write(f"optimize {manifest.study_id}: {manifest.n_trials} trials, ran {generations} generation(s) "
                     f"and {shards} shard(s) in {time.perf_counter() - t0:.1f}s\n"
                     f"report: {report}\n")
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}/\n")
    return 0
