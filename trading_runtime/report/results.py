"""Read finished results from a store into typed objects for the report (read-only, verified).

A results URI names either a single backtest's folder (``stats.json``, ``manifest.json``,
``equity.parquet``, ``trades.csv``) or an experiment's folder ``<store>/experiments/<id>`` (the
same URI ``validate --results`` takes; a trailing ``/summary.json`` is accepted too). Experiment
artifacts are trusted only through their completion markers, and the equity curves finalize derived
(``curves.f64``) are checked against the sha256 in ``curves.json`` as they are read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from trading_runtime.config.experiment import ExperimentConfig, ObjectiveSpec
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.execution.outputs import BacktestManifest
from trading_runtime.fanin.documents import ExperimentSummary, FanInDocument, RunRecord, parse_document
from trading_runtime.planning import ExperimentKeys, Plan
from trading_runtime.planning.curves import StoredCurves, stored_curves
from trading_runtime.planning.equity_blob import Curve
from trading_runtime.planning.keys import SHARD_SCHEMA_VERSION
from trading_runtime.report.html import Section
from trading_runtime.sharpe import Moments
from trading_runtime.store import (
    MARKER_SUFFIX,
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    open_store,
    read_complete,
)

if TYPE_CHECKING:  # imported where a study is loaded: a sweep's or a backtest's report does not need them
    from trading_runtime.report.study_documents import (
        BestParameters,
        OptimizationHistory,
        ParamImportances,
        ParetoFront,
        PerformanceMetrics,
        StudyMetadata,
        TrialRow,
    )

REPORT_NAME = "report.html"
D = TypeVar("D", bound=BaseModel)
_STUDY_URI = re.compile(r"^(?P<root>.*?)/?optimize/(?P<id>[^/]+)(/results)?$")


@dataclass(frozen=True)
class EquityCurve:
    """Equity at every scored bar close; ``initial`` is the cash before the first bar."""

    ts: npt.NDArray[np.int64]  # epoch nanoseconds, UTC
    equity: npt.NDArray[np.float64]
    initial: float

    @property
    def seconds(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.ts // 1_000_000_000, dtype=np.float64)


@dataclass(frozen=True)
class BacktestResults:
    store: ArtifactStore
    report_key: str  # where report.html goes, beside the results
    stats: dict[str, Any]
    manifest: BacktestManifest
    curve: EquityCurve
    position: npt.NDArray[np.float64]
    trades: list[dict[str, str]]

    @property
    def label(self) -> str:
        return self.manifest.config_id


@dataclass(frozen=True)
class ExperimentResults:
    store: ArtifactStore
    report_key: str
    summary: ExperimentSummary
    summary_bytes: bytes  # summary.json as stored (canonical JSON)
    plan: Plan
    config: ExperimentConfig
    runs: dict[str, RunRecord]  # every run record (params, fold, in_sample, out_of_sample), by run id
    fanin: FanInDocument | None
    oos: dict[str, Any] | None
    provenance: dict[str, Any] | None
    # curves.json: the curves finalize derived (each window's leaderboard, both segments); None when every one
    # of them is held in memory (a sweep's report: finalized_experiment)
    stored: StoredCurves | None
    _curves: dict[tuple[str, str], EquityCurve] = field(default_factory=dict, repr=False)  # the ones read so far
    # run id -> the moments of its per-bar returns (report.selection.return_moments), computed beside the report
    # (a sweep's worker process; read when the significance section is rendered, which computes the others)
    return_moments: Mapping[str, Moments] = field(default_factory=dict, repr=False)
    # section id -> the section rendered beside the report from the same results (a sweep's worker process: the
    # equity charts); read when the report gets there, which renders those it is not given (or cannot get)
    sections: Mapping[str, Section] = field(default_factory=dict, repr=False)

    @property
    def experiment_id(self) -> str:
        return self.plan.experiment_id

    def curve(self, run_id: str, segment: str) -> EquityCurve | None:
        """A derived equity curve (the top-K runs of each window), None when not derived."""
        return self.curves([(run_id, segment)])[0]

    def curves(self, wanted: Sequence[tuple[str, str]]) -> list[EquityCurve | None]:
        """Derived equity curves by (run id, segment), None where not derived. The blob is streamed once for
        all the curves asked for that were not read yet, verified against curves.json's sha256 as it streams,
        and only those series are copied out (series of one window share their timestamps); they are kept
        for later calls."""
        if self.stored is not None:
            missing = [key for key in dict.fromkeys(wanted) if key not in self._curves and key in self.stored.entries]
            cash = self.config.execution.initial_cash
            for key, (ts, eq) in self.stored.read(missing).items():
                self._curves[key] = EquityCurve(ts, eq, cash)
        return [self._curves.get(key) for key in wanted]

    def oos_curves(self) -> dict[str, EquityCurve]:
        """The stitched out-of-sample equity of a walk-forward (oos_equity.json): one curve named ``""``, or a
        universe's, one per instrument (by symbol); empty when there is none."""
        if self.oos is None:
            return {}
        docs = self.oos.get("instruments", {"": self.oos})
        return {name: EquityCurve(np.asarray(doc["ts"], dtype=np.int64), np.asarray(doc["equity"], dtype=np.float64),
                                  float(doc["initial_cash"]))
                for name, doc in docs.items()}


@dataclass(frozen=True)
class StudyResults:
    store: ArtifactStore
    report_key: str
    study_id: str
    metadata: StudyMetadata
    best: BestParameters
    performance: PerformanceMetrics
    history: OptimizationHistory
    importances: ParamImportances
    pareto: ParetoFront | None  # several objectives only
    curves: dict[tuple[str, str], EquityCurve] = field(default_factory=dict)  # (fold, segment) of the best trial

    @property
    def objectives(self) -> list[ObjectiveSpec]:
        return list(self.metadata.objectives)

    @property
    def trials(self) -> list[TrialRow]:
        return list(self.history.trials)


def study_location(uri: str, base_dir: Path | None = None) -> tuple[ArtifactStore, str] | None:
    """(store root, study id) when ``uri`` is ``<store>/optimize/<study_id>[/results]``."""
    text = uri.rstrip("/")
    if text.endswith("/" + REPORT_NAME):
        text = text[: -len(REPORT_NAME) - 1]
    m = _STUDY_URI.match(text)
    if m is None:
        return None
    return open_store(m.group("root") or ".", base_dir), m.group("id")


def _results_key(study_id: str, name: str) -> str:
    from trading_runtime.optimize.keys import StudyKeys  # the layout's one place (imports the optimize package)

    return StudyKeys(study_id).result(name)


def load_study(store: ArtifactStore, study_id: str) -> StudyResults:
    """The study's result documents, each parsed into its model (exit 3 naming what does not match)."""
    from trading_runtime.report.study_documents import (
        BestParameters,
        OptimizationHistory,
        ParamImportances,
        ParetoFront,
        PerformanceMetrics,
        StudyMetadata,
    )

    def read(name: str, model: type[D]) -> D:
        key = _results_key(study_id, name)
        return parse_document(model, read_complete(store, key), f"{store.uri.rstrip('/')}/{key}")

    try:
        best = read("best_parameters.json", BestParameters)
        performance = read("performance_metrics.json", PerformanceMetrics)
        history = read("optimization_history.json", OptimizationHistory)
        importances = read("param_importances.json", ParamImportances)
        metadata = read("metadata.json", StudyMetadata)
    except ArtifactMissingError as e:
        raise InputError(f"{store.uri}: study {study_id} has no results ({e.key} missing): run "
                         f"'optimize finalize --store {store.uri} --study {study_id}' first") from None
    try:
        pareto: ParetoFront | None = read("pareto_front.json", ParetoFront)
    except ArtifactMissingError:
        pareto = None
    curves = _best_curves(store, study_id, metadata, best, history)
    return StudyResults(store, _results_key(study_id, REPORT_NAME), study_id, metadata, best, performance, history,
                        importances, pareto, curves)


def _best_curves(store: ArtifactStore, study_id: str, metadata: StudyMetadata, best: BestParameters,
                 history: OptimizationHistory) -> dict[tuple[str, str], EquityCurve]:
    """The best trial's equity curves, per (fold, segment): those its re-evaluation (``<study>.best``) derived."""
    if best.trial is None:
        return {}
    from trading_runtime.optimize.keys import StudyKeys
    from trading_runtime.optimize.objective import trial_run_id

    ek = ExperimentKeys(StudyKeys(study_id).best_experiment)
    if not store.exists(ek.plan + MARKER_SUFFIX) or not store.exists(ek.curves + MARKER_SUFFIX):
        return {}  # not re-evaluated (no best trial), or finalized before the curves were derived at fan-in
    plan = Plan.model_validate(json.loads(read_complete(store, ek.plan)))
    cash = float(metadata.initial_cash or 0.0) or plan.config.execution.initial_cash
    fold_of = {trial_run_id(best.trial, f.id): f.id for f in metadata.folds}
    read = stored_curves(store, ek).read([(rid, seg) for rid in fold_of for seg in ("in_sample", "out_of_sample")])
    return {(fold_of[rid], seg): EquityCurve(ts, eq, cash) for (rid, seg), (ts, eq) in read.items()}


Results = BacktestResults | ExperimentResults | StudyResults


def report_location(results: Results) -> str:
    """Where ``report.html`` of these results is written: a local path, or a URI."""
    root = getattr(results.store, "root", None)
    if isinstance(root, Path):
        return str(root / results.report_key)
    return f"{results.store.uri.rstrip('/')}/{results.report_key}"

_EXPERIMENT_URI = re.compile(r"^(?P<root>.*?)/?experiments/(?P<id>[^/]+)$")


def _strip(uri: str) -> str:
    text = uri.rstrip("/")
    for suffix in ("/summary.json", "/manifest.json", "/report.html"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].rstrip("/")
    return text


def experiment_location(uri: str, base_dir: Path | None = None) -> tuple[ArtifactStore, str] | None:
    """(the store's root, the experiment id) when ``uri`` is ``<store>/experiments/<id>``, else None.

    Completion markers name keys from the store's root, so an experiment is read through its root.
    """
    m = _EXPERIMENT_URI.match(_strip(uri))
    if m is None:
        return None
    store = open_store(m.group("root") or ".", base_dir)
    return store, m.group("id")


def load_results(uri: str, base_dir: Path | None = None) -> Results:
    """A backtest folder, an experiment ``<store>/experiments/<id>`` or a study ``<store>/optimize/<id>``."""
    study = study_location(uri, base_dir)
    if study is not None:
        return load_study(*study)
    where = experiment_location(uri, base_dir)
    if where is not None and where[0].exists(ExperimentKeys(where[1]).plan + MARKER_SUFFIX):
        return load_experiment(where[0], where[1])
    store = open_store(_strip(uri), base_dir)
    if store.exists("manifest.json"):
        return load_backtest(store)
    raise InputError(f"{uri}: no results here (expected a backtest folder with manifest.json, an experiment "
                     f"folder <store>/experiments/<id> with a complete plan.json, or a study <store>/optimize/<id>)")


def _bytes(store: ArtifactStore, key: str) -> bytes:
    try:
        return store.get_bytes(key)
    except ArtifactNotFoundError:
        raise InputError(f"{store.uri}: {key} missing") from None


def _json(store: ArtifactStore, key: str) -> Any:
    try:
        return json.loads(store.get_bytes(key))
    except ArtifactNotFoundError:
        raise InputError(f"{store.uri}: {key} missing") from None
    except ValueError as e:
        raise InputError(f"{store.uri}: {key}: not valid JSON ({e})") from None


def initial_cash_of(stats: dict[str, Any], first_equity: float | None = None) -> float:
    """The backtest's starting cash, recovered from final_equity / (1 + total_return).

    A total loss (total_return -1, final equity 0) is a result, not an error: the cash is then the
    equity at the first close (nothing is filled before the next open, so it is the starting cash).
    """
    final, ret = stats.get("final_equity"), stats.get("total_return")
    if final is not None and ret is not None and ret != -1:
        return float(final) / (1.0 + float(ret))
    if ret == -1 and first_equity is not None and first_equity > 0:
        return float(first_equity)
    raise InputError("stats.json: final_equity and total_return are needed to recover the initial cash")


def read_equity_parquet(data: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # ParquetFile.read without threads starts no Arrow thread pool (read_table would start its I/O pool):
    # pool threads alive at interpreter exit can abort the process (exit 134).
    table = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
    ts = np.asarray(table.column("ts").cast("int64").to_numpy(), dtype=np.int64)
    eq = np.asarray(table.column("equity").to_numpy(), dtype=np.float64)
    pos = np.asarray(table.column("position").to_numpy(), dtype=np.float64)
    return ts, eq, pos


def load_backtest(store: ArtifactStore) -> BacktestResults:
    stats = _json(store, "stats.json")
    manifest = parse_document(BacktestManifest, _bytes(store, "manifest.json"),
                              f"{store.uri.rstrip('/')}/manifest.json")
    try:
        ts, eq, pos = read_equity_parquet(store.get_bytes("equity.parquet"))
    except ArtifactNotFoundError:
        raise InputError(f"{store.uri}: equity.parquet missing") from None
    try:
        text = store.get_bytes("trades.csv").decode("utf-8")
        trades = list(csv.DictReader(io.StringIO(text)))
    except ArtifactNotFoundError:
        trades = []
    curve = EquityCurve(ts, eq, initial_cash_of(stats, float(eq[0]) if len(eq) else None))
    return BacktestResults(store, REPORT_NAME, stats, manifest, curve, pos, trades)


def load_experiment(store: ArtifactStore, experiment_id: str,
                    curves: Mapping[tuple[str, str], Curve] | None = None) -> ExperimentResults:
    """plan, summary (finalized), every shard's run records, the derived curves' index, stitched OOS equity.

    ``curves``: the curves finalize derived in this process (the sweep), used instead of reading them back;
    else they are read from curves.f64 when asked for (verified against curves.json as they stream).
    """
    keys = ExperimentKeys(experiment_id)
    try:
        plan = Plan.model_validate(json.loads(read_complete(store, keys.plan)))
    except ArtifactMissingError:
        raise InputError(f"{store.uri}: no experiment {experiment_id} (no complete {keys.plan})") from None
    keys = plan.keys
    try:
        summary_bytes = read_complete(store, keys.summary)
    except ArtifactMissingError:
        raise InputError(f"{store.uri}: experiment {experiment_id} is not finalized (no summary.json): "
                         f"run 'finalize --store {store.uri} --experiment {experiment_id}' first") from None
    summary = parse_document(ExperimentSummary, summary_bytes, f"{store.uri}/{keys.summary}")
    runs = _run_records(store, plan)
    oos = json.loads(read_complete(store, keys.oos_equity)) if store.exists(keys.oos_equity + MARKER_SUFFIX) \
        else None
    fanin = _bytes(store, keys.fanin) if store.exists(keys.fanin) else None
    provenance = json.loads(read_complete(store, keys.provenance)) \
        if store.exists(keys.provenance + MARKER_SUFFIX) else summary.provenance
    return _experiment_results(store, plan, summary_bytes, summary, runs, fanin, oos, provenance,
                               stored_curves(store, keys), curves)


def finalized_experiment(store: ArtifactStore, plan: Plan, fanin: bytes, summary_bytes: bytes, oos: bytes | None,
                         provenance: bytes, curves: Mapping[tuple[str, str], Curve],
                         return_moments: Mapping[str, Moments] | None = None,
                         sections: Mapping[str, Section] | None = None,
                         run_records: bool = True) -> ExperimentResults:
    """What ``load_experiment`` reads once finalize has written these documents, taken from finalize's bytes
    (fanin.json, summary.json, oos_equity.json, provenance.json) and all the curves it derived (those of
    curves.f64, so none is read back): a sweep's report rendered while they are being written. ``plan`` is the
    stored one (as finalize read it); the shards' run records are read from the store."""
    keys = plan.keys
    summary = parse_document(ExperimentSummary, summary_bytes, f"{store.uri}/{keys.summary}")
    runs = _run_records(store, plan) if run_records else {}
    res = _experiment_results(store, plan, summary_bytes, summary, runs, fanin,
                              None if oos is None else json.loads(oos), json.loads(provenance), None, curves)
    return replace(res, return_moments=return_moments or {}, sections=sections or {})


def _run_records(store: ArtifactStore, plan: Plan) -> dict[str, RunRecord]:
    keys = plan.keys
    runs: dict[str, RunRecord] = {}
    for shard in plan.shards:
        where = f"{store.uri.rstrip('/')}/{keys.shard_result(shard.shard_id)}"
        result = json.loads(read_complete(store, keys.shard_result(shard.shard_id)))
        if not isinstance(result, dict) or result.get("schema_version") != SHARD_SCHEMA_VERSION:
            got = result.get("schema_version") if isinstance(result, dict) else None
            raise VerificationError(f"{where}: schema_version {got!r}, this version reads {SHARD_SCHEMA_VERSION} "
                                    "(written by another trading-runtime version: run the sweep again)")
        for rec in result["runs"]:
            run = parse_document(RunRecord, rec, where)
            runs[run.run_id] = run
    return runs


def _experiment_results(store: ArtifactStore, plan: Plan, summary_bytes: bytes, summary: ExperimentSummary,
                        runs: dict[str, RunRecord], fanin: bytes | None, oos: dict[str, Any] | None,
                        provenance: dict[str, Any] | None, stored: StoredCurves | None,
                        curves: Mapping[tuple[str, str], Curve] | None) -> ExperimentResults:
    keys = plan.keys
    cash = plan.config.execution.initial_cash
    known = {key: EquityCurve(ts, eq, cash) for key, (ts, eq) in (curves or {}).items()}
    fanin_doc = None if fanin is None else parse_document(FanInDocument, fanin, f"{store.uri}/{keys.fanin}")
    return ExperimentResults(store, f"{keys.root}/{REPORT_NAME}", summary, summary_bytes, plan, plan.config, runs,
                             fanin_doc, oos, provenance, stored, known)
