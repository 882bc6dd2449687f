"""finalize: the study's result documents (canonical JSON, no wall-clock times).

- ``best_parameters.json``: the selected trial: number, parameters, objective values;
- ``performance_metrics.json``: the best trial re-evaluated: in-sample metrics (mean and per fold),
  out-of-sample metrics (reported, never optimised), PSR and DSR;
- ``optimization_history.json``: every trial in number order: state, parameters, values, failure
  reason, best so far; over a universe also the ``aggregate`` rule and each trial's objective values
  per instrument (``instruments``: symbol → values, null where undefined), left out for one instrument;
- ``pareto_front.json``: multi-objective only: the non-dominated complete trials;
- ``param_importances.json``: PED-ANOVA importances per objective (Optuna's deterministic default);
- ``metadata.json``: study identity, data, folds, space, sampler, counts, provenance.

Selection is by in-sample values only. One objective: the best value, ties to the lowest trial
number. Several: the Pareto front of complete trials; the trial reported as best is the front's
best in the first objective (ties to the lowest number).

The Sharpe statistics use the best trial's in-sample per-bar simple returns, every fold's
segment pooled (each fold starts from the initial cash), and, for the deflation, N = every trial
of the study (failed and rejected ones too: each was tried) and V = the sample variance of the
per-bar in-sample Sharpe ratios (mean over folds) of every evaluated trial that has one. Over a
universe every instrument × trial counts: N = trials × instruments, V over each trial's Sharpe on
each instrument, and the best trial's returns pool every instrument's folds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import optuna
from optuna.trial import TrialState

from trading_runtime.config.experiment import OptunaSweep
from trading_runtime.optimize.objective import EVALUATION_ATTR, mean_metrics
from trading_runtime.optimize.space import trial_params
from trading_runtime.optimize.study import StudyManifest
from trading_runtime.planning import InstrumentRef
from trading_runtime.sharpe import (
    expected_max_sharpe,
    moments,
    probabilistic_sharpe,
    sample_variance,
    simple_returns,
)

__all__ = ["BestEvaluation", "TrialRecord", "pareto_front", "result_documents", "select_best", "trial_records"]

RESULTS_SCHEMA_VERSION = 1
IMPORTANCE_METHOD = "ped-anova"


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str  # COMPLETE | FAIL | RUNNING | WAITING | PRUNED
    params: dict[str, Any]
    values: list[float] | None
    evaluation: dict[str, Any] | None

    @property
    def fail_reason(self) -> str | None:
        return None if self.evaluation is None else self.evaluation.get("fail_reason")


def trial_records(trials: Sequence[optuna.trial.FrozenTrial], manifest: StudyManifest) -> list[TrialRecord]:
    space = manifest.search_space
    fixed = manifest.config.strategy.params
    out = []
    for t in sorted(trials, key=lambda t: t.number):
        complete = t.state == TrialState.COMPLETE
        params = trial_params(space, t.params, fixed) if set(space) <= set(t.params) else dict(t.params)
        out.append(TrialRecord(t.number, t.state.name, params,
                               [float(v) for v in t.values] if complete and t.values is not None else None,
                               t.user_attrs.get(EVALUATION_ATTR)))
    return out


def _signed(values: Sequence[float], directions: Sequence[str]) -> tuple[float, ...]:
    """Values turned into 'lower is better'."""
    return tuple(-v if d == "maximize" else v for v, d in zip(values, directions, strict=True))


def pareto_front(records: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """Complete trials no other complete trial dominates, in trial-number order."""
    complete = [r for r in records if r.state == "COMPLETE" and r.values is not None]
    if not complete:
        return []
    pts = np.array([_signed(r.values or [], directions) for r in complete], dtype=np.float64)
    front = []
    for i, r in enumerate(complete):
        le = np.all(pts <= pts[i], axis=1)
        lt = np.any(pts < pts[i], axis=1)
        if not np.any(le & lt):
            front.append(r)
    return front


def select_best(records: Sequence[TrialRecord], directions: Sequence[str]) -> TrialRecord | None:
    pool = pareto_front(records, directions) if len(directions) > 1 else \
        [r for r in records if r.state == "COMPLETE" and r.values is not None]
    if not pool:
        return None
    return min(pool, key=lambda r: (_signed(r.values or [], directions)[0], r.number))


@dataclass(frozen=True)
class BestEvaluation:
    """The best trial re-evaluated (finalize's plan ``<study>.best``)."""

    folds: list[tuple[str, dict[str, Any]]]  # (fold id, run record) in fold order
    in_sample_equity: list[npt.NDArray[np.float64]]  # per fold, the scored bars' equity


def _in_sample_metrics(record: TrialRecord, manifest: StudyManifest) -> list[Mapping[str, Any]]:
    """A trial's in-sample mean metrics: one dict, or one per instrument of a universe (each a trial of its own
    for the selection statistics)."""
    evaluation = record.evaluation or {}
    if manifest.instruments is None:
        return [evaluation.get("in_sample") or {}]
    per = evaluation.get("instruments") or {}
    return [(per.get(i.symbol) or {}).get("in_sample") or {} for i in manifest.instruments]


def _selection_statistics(manifest: StudyManifest, records: Sequence[TrialRecord], best: BestEvaluation,
                          bars_per_year: float) -> dict[str, Any]:
    cash = manifest.config.execution.initial_cash
    pooled = np.concatenate([simple_returns(eq, cash) for eq in best.in_sample_equity]) if best.in_sample_equity \
        else np.zeros(0)
    stats = moments(pooled, powers="product")  # the golden Optuna results' form (sharpe.py)
    defined = stats.psr_defined
    sharpes = []
    for r in records:
        for ins in _in_sample_metrics(r, manifest):
            if ins.get("sharpe") is not None:
                sharpes.append(float(ins["sharpe"]) / math.sqrt(bars_per_year))
    variance = sample_variance(sharpes)
    # a universe: every instrument × trial was tried (each is one more chance of a lucky Sharpe)
    n_trials = len(records) * (len(manifest.instruments) if manifest.instruments is not None else 1)
    sr0 = None if variance is None else expected_max_sharpe(n_trials, variance)
    return {
        "returns": "in-sample per-bar simple returns of the best trial, folds pooled",
        "n_returns": len(pooled),
        "sharpe_per_bar": stats.sharpe if defined else None,
        "skewness": stats.skew if defined else None,
        "kurtosis": stats.kurtosis if defined else None,
        "benchmark_sharpe": 0.0,
        "probabilistic_sharpe_ratio": probabilistic_sharpe(stats.sharpe, stats.n, stats.skew, stats.kurtosis, 0.0,
                                                           powers="product"),
        "n_trials": n_trials,
        "n_trials_with_sharpe": len(sharpes),
        "sharpe_variance_across_trials": variance,
        "expected_max_sharpe": sr0,
        "deflated_sharpe_ratio": None if sr0 is None else probabilistic_sharpe(
            stats.sharpe, stats.n, stats.skew, stats.kurtosis, sr0, powers="product"),
    }


def _importances(study: optuna.Study, manifest: StudyManifest, n_complete: int) -> dict[str, Any]:
    sweep = manifest.sweep
    names = sorted(manifest.space)
    out = []
    for i, o in enumerate(sweep.objectives):
        entry: dict[str, Any] = {"metric": o.metric, "direction": o.direction, "importances": None,
                                 "ranking": None, "reason": None}
        if n_complete < 2:
            entry["reason"] = f"needs at least 2 complete trials (got {n_complete})"
        elif len(names) < 1:
            entry["reason"] = "no parameter searched"
        else:
            sign = -1.0 if o.direction == "maximize" else 1.0

            def target(t: optuna.trial.FrozenTrial, i: int = i, sign: float = sign) -> float:
                return sign * float(t.values[i])

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    imp = optuna.importance.get_param_importances(
                        study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), params=names,
                        target=target)
                values = {k: float(v) for k, v in imp.items()}
                entry["importances"] = values
                entry["ranking"] = sorted(values, key=lambda k: (-values[k], k))
            except (RuntimeError, ValueError, ZeroDivisionError) as e:
                entry["reason"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    return {"study_id": manifest.study_id, "method": IMPORTANCE_METHOD,
            "method_detail": "optuna.importance.PedAnovaImportanceEvaluator() defaults, per objective "
                             "(importance of reaching the top 10% in-sample values)",
            "objectives": out, "schema_version": RESULTS_SCHEMA_VERSION}


def _history(manifest: StudyManifest, records: Sequence[TrialRecord], mode: str) -> dict[str, Any]:
    sweep = manifest.sweep
    directions = manifest.directions
    single = len(directions) == 1
    best: float | None = None
    rows = []
    for r in records:
        if single and r.state == "COMPLETE" and r.values is not None:
            v = r.values[0]
            if best is None or (v > best if directions[0] == "maximize" else v < best):
                best = v
        ins = (r.evaluation or {}).get("in_sample") or {}
        rows.append({
            "number": r.number,
            "generation": manifest.generation_of(r.number) if mode == "generations" else None,
            "state": r.state,
            "params": r.params,
            "values": r.values,
            "fail_reason": r.fail_reason,
            "in_sample_sharpe": ins.get("sharpe"),
            "best_value_so_far": best if single else None,
        })
        if manifest.instruments is not None:
            rows[-1]["instruments"] = _instrument_values(r, manifest.instruments)
    doc: dict[str, Any] = {"study_id": manifest.study_id, "schema_version": RESULTS_SCHEMA_VERSION,
                           "objectives": [o.model_dump(mode="json") for o in sweep.objectives], "trials": rows}
    if manifest.instruments is not None:
        doc["aggregate"] = manifest.config.objective.aggregate
    return doc


def _instrument_values(record: TrialRecord, instruments: Sequence[InstrumentRef]) -> dict[str, list[float] | None]:
    """A universe trial's objective values on each instrument (None where it failed or was not evaluated)."""
    per = (record.evaluation or {}).get("instruments") or {}
    return {i.symbol: (per.get(i.symbol) or {}).get("values") for i in instruments}


def _fold_rows(folds: Sequence[tuple[str, Mapping[str, Any]]], segment: str) -> list[dict[str, Any]]:
    return [{"fold": fid, "metrics": rec[segment]} for fid, rec in folds]


def _fold_info(manifest: StudyManifest) -> list[dict[str, Any]]:
    out = []
    for f in manifest.folds:
        seg = {"start_ts": f.in_sample.start_ts, "stop_ts": f.in_sample.stop_ts,
               "n_bars": f.in_sample.stop - f.in_sample.start}
        oos = None if f.out_of_sample is None else {
            "start_ts": f.out_of_sample.start_ts, "stop_ts": f.out_of_sample.stop_ts,
            "n_bars": f.out_of_sample.stop - f.out_of_sample.start}
        out.append({"id": f.id, "in_sample": seg, "out_of_sample": oos})
    return out


def result_documents(manifest: StudyManifest, study: optuna.Study, records: Sequence[TrialRecord],
                     best: TrialRecord | None, best_eval: BestEvaluation | None, bars_per_year: float,
                     provenance: Mapping[str, Any], mode: str = "generations") -> dict[str, dict[str, Any]]:
    """Every result document by file name."""
    sweep: OptunaSweep = manifest.sweep
    directions = manifest.directions
    objectives = [o.model_dump(mode="json") for o in sweep.objectives]
    sid = manifest.study_id
    docs: dict[str, dict[str, Any]] = {}
    docs["best_parameters.json"] = {
        "schema_version": RESULTS_SCHEMA_VERSION, "study_id": sid, "objectives": objectives,
        "selection": "in-sample only: mean over the validation folds; ties to the lowest trial number"
                     + ("; several objectives: the Pareto front's best in the first objective"
                        if len(directions) > 1 else ""),
        "trial": None if best is None else best.number,
        "params": None if best is None else best.params,
        "values": None if best is None else best.values,
    }
    perf: dict[str, Any] = {"schema_version": RESULTS_SCHEMA_VERSION, "study_id": sid,
                            "trial": None if best is None else best.number, "in_sample": None,
                            "out_of_sample": None, "selection_statistics": None}
    if best is not None and best_eval is not None:
        perf["in_sample"] = {"mean": mean_metrics([rec["in_sample"] for _, rec in best_eval.folds]),
                             "folds": _fold_rows(best_eval.folds, "in_sample")}
        if all(rec["out_of_sample"] is not None for _, rec in best_eval.folds):
            perf["out_of_sample"] = {
                "note": "reported, never optimised: the trial was selected on in-sample values",
                "mean": mean_metrics([rec["out_of_sample"] for _, rec in best_eval.folds]),
                "folds": _fold_rows(best_eval.folds, "out_of_sample")}
        perf["selection_statistics"] = _selection_statistics(manifest, records, best_eval, bars_per_year)
    docs["performance_metrics.json"] = perf
    docs["optimization_history.json"] = _history(manifest, records, mode)
    if len(directions) > 1:
        docs["pareto_front.json"] = {
            "schema_version": RESULTS_SCHEMA_VERSION, "study_id": sid, "objectives": objectives,
            "trials": [{"number": r.number, "params": r.params, "values": r.values}
                       for r in pareto_front(records, directions)]}
    n_complete = sum(1 for r in records if r.state == "COMPLETE")
    docs["param_importances.json"] = _importances(study, manifest, n_complete)
    counts = {"trials": len(records), "complete": n_complete,
              "failed": sum(1 for r in records if r.state == "FAIL"),
              "invalid_parameters": sum(1 for r in records
                                        if r.state == "FAIL" and (r.evaluation or {}).get("n_folds") == 0),
              "unfinished": sum(1 for r in records if r.state not in ("COMPLETE", "FAIL"))}
    cfg = manifest.config
    docs["metadata.json"] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "study_id": sid,
        "mode": mode,
        "study_sha256": manifest.identity_sha256(),
        "initial_cash": cfg.execution.initial_cash,
        "strategy": cfg.strategy.class_path,
        "fixed_params": cfg.strategy.params,
        "data": manifest.data.model_dump(mode="json", exclude={"path"}),  # the location is provenance (manifest)
        "validation": cfg.validation.model_dump(mode="json"),
        "warmup_bars": manifest.warmup_bars,
        "folds": _fold_info(manifest),
        "space": manifest.space,
        "sampler": sweep.sampler.model_dump(mode="json"),
        "objectives": objectives,
        "constraints": sweep.constraints.model_dump(mode="json"),
        "n_trials": manifest.n_trials,
        "batch_size": manifest.batch_size,
        "generations": manifest.n_generations if mode == "generations" else None,
        "counts": counts,
        "provenance": dict(provenance),
    }
    return docs
