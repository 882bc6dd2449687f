"""The local all-in-one sweep: plan → every pending shard on a process pool → finalize → report (resumable)."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.execution.experiment import ExperimentInputs, build_plan, load_inputs, run_shard, warm_kernels
from trading_runtime.execution.experiment_data import ExperimentData
from trading_runtime.orchestration.pool import Progress, drain, pending_shards, pool_context, setup_worker
from trading_runtime.orchestration.shared_curves import SharedBlob, can_share, write_series
from trading_runtime.planning import Plan, write_plan
from trading_runtime.planning.equity_blob import Curve, blob_layout
from trading_runtime.sharpe import Moments
from trading_runtime.store import ArtifactStore, open_store

if TYPE_CHECKING:  # fan-in and report are imported in their phases (start-up: a shard needs neither)
    from trading_runtime.fanin import Ranking
    from trading_runtime.fanin.documents import FanInDocument
    from trading_runtime.report.html import Section

log = logging.getLogger(__name__)
T = TypeVar("T")
V = TypeVar("V")

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


def _derive_shared(path: str, run_ids: list[str], entries: list[dict[str, Any]],
                   best: list[str]) -> dict[str, Moments] | str:
    """On a worker: the curves of ``run_ids`` derived (as finalize would) into the shared blob at ``path``, then,
    right after, the return moments of the in-sample series of ``best`` (some of ``run_ids``: windows' best runs,
    for the report's selection statistics). The moments, or what failed computing them (the report then does)."""
    from trading_runtime.execution.curves import derive_curves

    curves = derive_curves(_WORKER["plan"], _WORKER["inputs"], run_ids)
    write_series(path, entries, curves)
    if not best:
        return {}
    try:
        return _shared_moments(curves, best)
    except Exception as e:  # the curves are written all the same
        return f"{type(e).__name__}: {e}"


def _shared_equity_section(path: str, series: list[dict[str, Any]], fanin: bytes, summary: bytes,
                           oos: bytes | None, provenance: bytes) -> Section:
    """On a worker: the report's equity section, from finalize's documents and the curves of the shared blob
    (the same results the sweep process renders the other sections from)."""
    from trading_runtime.orchestration.shared_curves import map_curves
    from trading_runtime.report import finalized_experiment
    from trading_runtime.report.experiment import equity_section

    curves = map_curves(path, series)
    return equity_section(finalized_experiment(_WORKER["store"], _WORKER["plan"], fanin, summary, oos, provenance,
                                               curves, run_records=False))  # the section shows none


def _shared_moments(curves: Mapping[tuple[str, str], Curve], best: list[str]) -> dict[str, Moments]:
    """On a worker: the moments of the returns of the in-sample curves of ``best``, just derived here (the report's
    selection statistics: passes over every bar), while the sweep process does the rest."""
    from trading_runtime.report.selection import return_moments

    cash = _WORKER["plan"].config.execution.initial_cash
    return {rid: return_moments(curves[rid, "in_sample"][1], cash) for rid in best}


TAIL_MODULES = ("trading_runtime.execution.curves", "trading_runtime.orchestration.finalize",
                "trading_runtime.report.experiment", "trading_runtime.report.selection")
"""What finalize and the report run (and what the pool's workers run of them), in the order ``import_tail``
imports them."""


def import_tail(stop: Callable[[], bool] | None = None) -> None:
    """Import ``TAIL_MODULES`` (before the pool forks: its workers then have them when they take their parts of
    the tail; this process would import them for the tail all the same). ``stop``: asked before each module's
    import, none more when it says so (``cli.sweep``: only while the data are being read)."""
    for name in TAIL_MODULES:
        if stop is not None and stop():
            return
        importlib.import_module(name)


@dataclass(frozen=True)
class Executed:
    ran: int  # shards run
    pool: ProcessPoolExecutor | None  # the workers that ran them, when kept open for the caller
    processes: int = 0  # the pool's worker processes


def execute(store: ArtifactStore, plan: Plan, inputs: ExperimentInputs, workers: int,
            progress: ProgressFactory, keep: ExitStack | None = None) -> Executed:
    """Run the pending shards. With a pool of workers and ``keep``, the pool stays open (closed with ``keep``)
    for the caller's next steps; else it is closed before this returns."""
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
            return Executed(len(todo), None)
        warm_kernels(plan, inputs)  # forked workers inherit the loaded kernels
        if keep is not None:  # and the tail's modules, for the parts of it they take (see _finish_on_cores)
            import_tail()
        processes = min(workers, len(todo))
        with ExitStack() as own:
            pool = (keep or own).enter_context(ProcessPoolExecutor(
                max_workers=processes, mp_context=pool_context(), initializer=_init_worker,
                initargs=(store.uri, plan, inputs)))
            # Largest shards first (stable by id): the pool hands them out in this order, so the small
            # last shard does not start late and leave the other workers idle.
            order = sorted(todo, key=lambda sid: -runs_of[sid])
            drain(pool, {pool.submit(_work, sid) for sid in order}, lambda done: bar.add(done[1], shard=done[0]))
        return Executed(len(todo), pool if keep is not None else None, processes)
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
    with ExitStack() as keep:
        t_shards = time.perf_counter()
        done = execute(store, plan, inputs, workers, progress, keep if workers > 1 else None)
        shard_seconds = time.perf_counter() - t_shards
        log.info("shards: ran %d in %.3fs on %d worker(s)", done.ran, shard_seconds, workers,
                 extra={"done": done.ran, "seconds": round(shard_seconds, 3)})
        if workers > 1:
            return _finish_on_cores(store, plan, done, provenance, inputs)
    # fan-in and report: imported for their phase. This process holds the data and the warm kernels: finalize
    # derives the curves here, and the report takes them from memory (the same arrays written to curves.f64).
    from trading_runtime.orchestration.finalize import finalize
    from trading_runtime.report import load_experiment, write_report

    final = finalize(store, plan.experiment_id, provenance, inputs)
    results = load_experiment(store, plan.experiment_id, curves=final.curves)
    report = write_report(results)
    assert results.fanin is not None  # finalize wrote it
    return SweepResult(plan, done.ran, final.summary_key, report, results.fanin)


def _finish_on_cores(store: ArtifactStore, plan: Plan, done: Executed, provenance: Mapping[str, Any],
                     inputs: ExperimentInputs) -> SweepResult:
    """finalize and the report with more than one core (``--workers`` above 1), the same bytes as ``finalize``
    then ``write_report`` (tests/integration/test_sweep_tail.py):

    * the curves are derived on the workers of the shards' pool (when there is one, on Linux: ``deal_curve_runs``)
      while this process writes each window's timestamps, straight into the blob curves.f64 will hold, in shared
      memory (``shared_curves``); the worker that derives a window's best run computes the moments of its
      in-sample returns (the report's selection statistics) right after; then a worker renders the report's
      equity section;
    * finalize's last writes (the curves blob hashed, written and synced, then curves.json, oos_equity.json,
      summary.json, provenance.json, in finalize's order) go on a thread while the report is rendered from the
      same documents in memory; report.html is written after them, as with one worker.

    A worker that fails or dies there costs time, not results: this process then does that part itself.
    """
    from trading_runtime.orchestration.finalize import final_documents
    from trading_runtime.report import finalized_experiment, render_report, store_report

    tail = _PoolTail(done.pool, done.processes, plan, inputs)
    try:
        docs = final_documents(store, plan.experiment_id, provenance, inputs, derive=tail.derive)
        with ThreadPoolExecutor(1, thread_name_prefix="finalize-writes") as writer:
            written = writer.submit(docs.write)
            tail.equity_section(docs.fanin, docs.summary, docs.oos, docs.provenance)
            results = finalized_experiment(store, docs.plan, docs.fanin, docs.summary, docs.oos, docs.provenance,
                                           docs.curves, _WhenRead(tail.moments), _WhenRead(tail.sections))
            data = render_report(results)
            written.result()  # its error, if any (the thread is waited for whatever happens)
    finally:
        tail.close()
    report = store_report(results, data)
    assert results.fanin is not None  # finalize wrote it
    return SweepResult(plan, done.ran, docs.finalized.summary_key, report, results.fanin)


MOMENTS_COST = 3.0
"""The return moments of a best run's in-sample curve, in curves derived and written on a worker (measured with
1M bars: ~0.065 s against ~0.02 s), for ``deal_curve_runs``."""


def deal_curve_runs(run_ids: list[str], best: set[str], processes: int) -> list[list[str]]:
    """The curves' runs in one group per worker process (none for the sweep process: with the pool's workers on
    the cores, it would only take CPU from them, and its heap is cold where theirs is warm from the shards).
    The best runs first, each to the worker with the least work so far (the first on a tie), then the others: a
    best run counts its moments too (``_derive_shared`` computes them right after its curves)."""
    groups: list[list[str]] = [[] for _ in range(max(processes, 1))]
    load = [0.0] * len(groups)
    for rid in [rid for rid in run_ids if rid in best] + [rid for rid in run_ids if rid not in best]:
        k = load.index(min(load))
        groups[k].append(rid)
        load[k] += 1.0 + (MOMENTS_COST if rid in best else 0.0)
    return groups


class _PoolTail:
    """The parts of finalize and of the report that the shards' pool takes (see ``_finish_on_cores``)."""

    def __init__(self, pool: ProcessPoolExecutor | None, processes: int, plan: Plan, inputs: ExperimentInputs) -> None:
        self.pool = pool
        self.processes = processes
        self.plan = plan
        self.inputs = inputs
        self.shared: SharedBlob | None = None
        self.computed: dict[str, Moments] = {}  # the return moments the workers computed, by run id
        self.equity: Future[Section] | None = None

    def derive(self, ranking: Ranking) -> Mapping[tuple[str, str], Curve]:
        from trading_runtime.execution.curves import derive_curves

        run_ids = ranking.curve_runs()
        best = [fold["leaderboard"][0]["run_id"] for fold in ranking.folds if fold["leaderboard"]]
        curves = self._derive_on_pool(run_ids, best) if self.pool is not None and run_ids and can_share() else None
        return derive_curves(self.plan, self.inputs, run_ids) if curves is None else curves

    def _derive_on_pool(self, run_ids: list[str], best: list[str]) -> Mapping[tuple[str, str], Curve] | None:
        from trading_runtime.execution.shard import SEGMENTS  # numba's side: imported by now

        assert self.pool is not None
        runs, folds = self.plan.run_index(), self.plan.fold_index()
        lengths = {(rid, name): seg.stop - seg.start for rid in run_ids for name in SEGMENTS
                   if (seg := getattr(folds[runs[rid].fold], name)) is not None}
        self.shared = shared = SharedBlob.create(blob_layout(lengths, {rid: runs[rid].fold for rid in run_ids}))

        def entries(group: list[str]) -> list[dict[str, Any]]:
            wanted = set(group)
            return [e for e in shared.layout.series if e["run_id"] in wanted]

        groups = deal_curve_runs(run_ids, set(best), self.processes)
        try:
            futures = [self.pool.submit(_derive_shared, shared.path, group, entries(group),
                                        [rid for rid in group if rid in best]) for group in groups if group]
            bars = self.inputs.bars()
            for (fold_id, name), _ in shared.layout.windows.items():  # each window's timestamps, meanwhile
                fold = folds[fold_id]
                seg = getattr(fold, name)
                fold_bars = bars[str(fold.instrument)] if isinstance(bars, Mapping) else bars
                shared.put_timestamps((fold_id, name), fold_bars.slice(seg.warmup_start, seg.stop).ts[
                    seg.start - seg.warmup_start:])
            moments = [future.result() for future in futures]
        except Exception as e:  # a worker failed or died (the pool is then broken)
            log.warning("workers could not derive the curves (%s: %s): derived here", type(e).__name__, e)
            self.shared = None  # nothing reads it (closed with the last view of it)
            shared.close()
            return None
        for got in moments:
            if isinstance(got, str):
                log.warning("a worker could not compute the report's return moments (%s): computed here", got)
            else:
                self.computed.update(got)
        return shared.curves()

    def equity_section(self, fanin: bytes, summary: bytes, oos: bytes | None, provenance: bytes) -> None:
        """Start the report's equity section on a worker (when the curves are in the shared blob)."""
        if self.pool is None or self.shared is None:
            return
        try:
            self.equity = self.pool.submit(_shared_equity_section, self.shared.path, self.shared.layout.series,
                                           fanin, summary, oos, provenance)
        except Exception as e:  # a broken pool: the report renders it
            log.warning("no worker for the report's equity section (%s: %s)", type(e).__name__, e)

    def moments(self) -> dict[str, Moments]:
        """What the workers computed (not those they could not: the report computes them)."""
        return self.computed

    def sections(self) -> dict[str, Section]:
        """The sections rendered on a worker (none when it could not: the report renders them)."""
        section = self._result(self.equity, "the report's equity section")
        return {} if section is None else {"equity": section}

    def _result(self, future: Future[T] | None, what: str) -> T | None:
        try:
            return future.result() if future is not None else None
        except Exception as e:
            log.warning("a worker could not compute %s (%s: %s): computed here", what, type(e).__name__, e)
            return None

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        if self.pool is not None:
            self.pool.shutdown(wait=False)  # after the last task: its workers exit (joined when the sweep ends)


class _WhenRead(Mapping[str, V]):
    """What a worker computes for the report, waited for when the report first reads it (``get`` finds nothing
    when the worker could not: the report computes it then)."""

    def __init__(self, wait: Callable[[], dict[str, V]]) -> None:
        self._wait = wait
        self._got: dict[str, V] | None = None

    def _all(self) -> dict[str, V]:
        if self._got is None:
            self._got = self._wait()
        return self._got

    def __getitem__(self, key: str) -> V:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
