"""A universe's ranking of parameter sets by an aggregate of the objective over its instruments.

A parameter set's value on one instrument is its in-sample objective, the mean over that
instrument's folds (one fold for ``full`` and ``holdout``); it is undefined (null) when a fold's run
breaks a constraint or has no objective. Across the universe (``objective.aggregate``):

- ``mean``, ``median``: of the instruments' values; ``min``: the worst instrument's value in the
  objective's direction (the smallest when maximising, the largest when minimising). A set with an
  undefined value on any instrument has no aggregate: it is not ranked and is counted as undefined.
- ``share_positive``: the share of the instruments whose value is > 0 (an undefined value is not
  positive); ties are broken by the mean (sets with a defined mean first), then by the parameters.

Ranks: best first; ties by the parameters' canonical JSON. A set that works on most instruments beats
one that is best on a single instrument under ``median``, ``min`` and ``share_positive``; ``mean``
rewards the total.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from trading_runtime.config.experiment import ObjectiveConfig
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning import Plan


def _signed(value: float, objective: ObjectiveConfig) -> float:
    """Smaller is better."""
    return -value if objective.direction == "maximize" else value


def aggregate_value(values: Sequence[float | None], objective: ObjectiveConfig) -> float | None:
    """The universe's value of one parameter set (``ObjectiveConfig.aggregated``; see the module docstring)."""
    return objective.aggregated(values)


def rank_key(values: Sequence[float | None], objective: ObjectiveConfig, params_key: bytes) -> tuple[Any, ...] | None:
    """Sort key of a parameter set, best first; None when it has no aggregate."""
    value = aggregate_value(values, objective)
    if value is None:
        return None
    if objective.aggregate == "share_positive":
        defined = [float(v) for v in values if v is not None]
        mean = statistics.fmean(defined) if len(defined) == len(values) else None
        return (-value, 0 if mean is not None else 1, _signed(mean, objective) if mean is not None else 0.0,
                params_key)
    return (_signed(value, objective), params_key)


def instrument_value(records: Sequence[Mapping[str, Any]], objective: ObjectiveConfig) -> float | None:
    """One parameter set on one instrument: the mean in-sample objective over its folds' runs."""
    values = []
    for rec in records:
        if objective.violations(rec["in_sample"]) or objective.rank_key(rec["in_sample"], rec["run_id"]) is None:
            return None
        values.append(float(rec["in_sample"][objective.metric]))
    return statistics.fmean(values) if values else None


def _oos_value(records: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    values = [rec["out_of_sample"].get(metric) if rec.get("out_of_sample") else None for rec in records]
    if not values or any(v is None or not math.isfinite(float(v)) for v in values):
        return None
    return statistics.fmean(float(v) for v in values if v is not None)


def universe_ranking(plan: Plan, records: Mapping[str, Mapping[str, Any]], objective: ObjectiveConfig,
                     top_k: int) -> dict[str, Any]:
    """summary.json's ``universe``: the aggregate ranking (best ``top_k`` sets) and the matrix of every set's
    value per instrument (the heat map's data)."""
    assert plan.instruments is not None
    symbols = [i.symbol for i in plan.instruments]
    folds = plan.fold_index()
    by_set: dict[bytes, dict[str, list[Mapping[str, Any]]]] = {}
    params_of: dict[bytes, dict[str, Any]] = {}
    for run in plan.runs:
        key = canonical_bytes(run.params)
        params_of.setdefault(key, run.params)
        symbol = str(folds[run.fold].instrument)
        by_set.setdefault(key, {}).setdefault(symbol, []).append(records[run.run_id])
    rows = []
    undefined = 0
    for key in sorted(by_set):
        per = {s: instrument_value(by_set[key].get(s, []), objective) for s in symbols}
        oos = {s: _oos_value(by_set[key].get(s, []), objective.metric) for s in symbols}
        values = [per[s] for s in symbols]
        sort_key = rank_key(values, objective, key)
        if sort_key is None:
            undefined += 1
        rows.append((sort_key, key, per, oos))
    ranked = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])  # type: ignore[arg-type, return-value]
    defined_mean = {k: aggregate_value(list(per.values()), objective.model_copy(update={"aggregate": "mean"}))
                    for _, k, per, _ in rows}
    ranking = []
    for i, (_, key, per, oos) in enumerate(ranked[:top_k]):
        values = [per[s] for s in symbols]
        ranking.append({
            "rank": i + 1, "params": params_of[key], "aggregate": aggregate_value(values, objective),
            "mean": defined_mean[key], "share_positive": aggregate_value(
                values, objective.model_copy(update={"aggregate": "share_positive"})),
            "instruments": per, "out_of_sample": oos if plan.folds[0].out_of_sample is not None else None,
        })
    return {
        "aggregate": objective.aggregate,
        "metric": objective.metric,
        "direction": objective.direction,
        "instruments": [{"symbol": i.symbol, **i.data.model_dump(mode="json", exclude={"path"})}
                        for i in plan.instruments],
        "parameter_sets": len(rows),
        "ranked": len(ranked),
        "undefined_aggregate": undefined,
        "ranking": ranking,
        "matrix": {"params": [params_of[k] for _, k, _, _ in rows],
                   "values": [[per[s] for s in symbols] for _, _, per, _ in rows]},
    }
