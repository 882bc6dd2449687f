"""A trial's value from its runs: the in-sample objective, averaged over the validation folds (over a
universe: per instrument, then aggregated over the instruments by ``objective.aggregate``).

Only in-sample metrics decide a trial's value; out-of-sample metrics are averaged and recorded
beside it, never told to the sampler. A trial fails (told ``FAIL``, counted, never selected)
when its parameters are rejected by the strategy, when an objective is undefined (``null``) in a
fold, or when a fold's in-sample metrics break ``sweep.constraints``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trading_runtime.config.experiment import (
    OBJECTIVE_METRICS,
    Aggregate,
    ConstraintsConfig,
    ObjectiveConfig,
    ObjectiveSpec,
)

__all__ = ["EVALUATION_ATTR", "TrialOutcome", "evaluate_trial", "invalid_outcome", "mean_metrics", "trial_run_id"]

# The trial user attribute holding the evaluation (averaged metrics, failure reason).
EVALUATION_ATTR = "evaluation"
MAX_REASONS = 3


def trial_run_id(number: int, fold_id: str) -> str:
    """The run of trial ``number`` on fold ``fold_id``: ``run-t000012-wf-003``."""
    return f"run-t{number:06d}-{fold_id}"


@dataclass(frozen=True)
class TrialOutcome:
    state: Literal["COMPLETE", "FAIL"]
    values: list[float] | None
    evaluation: dict[str, Any]


def mean_metrics(per_fold: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Each metric's mean over the folds (math.fsum, fold order); null where any fold's is null (or not finite)."""
    if not per_fold or any(m is None for m in per_fold):
        return None
    n = len(per_fold)
    if n == 1:  # a single fold (a study without walk-forward): fsum of one value is the value, -0.0 made 0.0
        (metrics,) = per_fold
        assert metrics is not None
        one: dict[str, Any] = {}
        for name in OBJECTIVE_METRICS:
            v = metrics[name]
            x = None if v is None else float(v)
            one[name] = x + 0.0 if x is not None and _isfinite(x) else None
        return one
    # one column per metric (a tell evaluates two sets of metrics per trial: a loop per fold and metric costs more
    # than the trial's own work; tests/unit/test_optimize_space.py compares it with the plain form)
    columns = zip(*[[m[name] for name in OBJECTIVE_METRICS] for m in per_fold if m is not None], strict=True)
    out: dict[str, Any] = {}
    for name, column in zip(OBJECTIVE_METRICS, columns, strict=True):
        vals = []
        for v in column:
            if v is None:
                break
            x = float(v)
            if not _isfinite(x):
                break
            vals.append(x)
        else:
            out[name] = _fsum(vals) / n
            continue
        out[name] = None
    return out


_isfinite = math.isfinite
_fsum = math.fsum


def invalid_outcome(reason: str) -> TrialOutcome:
    return TrialOutcome("FAIL", None, {"fail_reason": f"invalid parameters: {reason}", "in_sample": None,
                                       "out_of_sample": None, "n_folds": 0})


def evaluate_trial(objectives: Sequence[ObjectiveSpec], constraints: ConstraintsConfig,
                   folds: Sequence[tuple[str, Mapping[str, Any]]], instruments: Mapping[str, str] | None = None,
                   objective: ObjectiveConfig | None = None) -> TrialOutcome:
    """``folds``: (fold id, run record with ``in_sample``/``out_of_sample`` metrics) in fold order.

    ``instruments`` (a universe's fold id → symbol): each objective is its mean over an instrument's folds,
    then aggregated over the instruments by ``objective.aggregate`` (``ObjectiveConfig.aggregated``)."""
    if instruments is not None:
        return _evaluate_universe(objectives, constraints, folds, instruments,
                                  objective.aggregate if objective is not None else "mean")
    check = ObjectiveConfig(constraints=constraints)
    reasons: list[str] = []
    for fold_id, rec in folds:
        for why in check.violations(rec["in_sample"]):
            reasons.append(f"fold {fold_id}: {why}")
        for o in objectives:
            v = rec["in_sample"].get(o.metric)
            if v is None or not math.isfinite(float(v)):
                reasons.append(f"fold {fold_id}: {o.metric} undefined")
    in_sample = mean_metrics([rec["in_sample"] for _, rec in folds])
    oos = [rec["out_of_sample"] for _, rec in folds]
    evaluation: dict[str, Any] = {
        "in_sample": in_sample,
        "out_of_sample": mean_metrics(oos) if all(m is not None for m in oos) else None,
        "n_folds": len(folds),
        "fail_reason": None,
    }
    if reasons:
        more = f" (+{len(reasons) - MAX_REASONS} more)" if len(reasons) > MAX_REASONS else ""
        evaluation["fail_reason"] = "; ".join(reasons[:MAX_REASONS]) + more
        return TrialOutcome("FAIL", None, evaluation)
    assert in_sample is not None
    values = [float(in_sample[o.metric]) for o in objectives]
    return TrialOutcome("COMPLETE", values, evaluation)


def _evaluate_universe(objectives: Sequence[ObjectiveSpec], constraints: ConstraintsConfig,
                       folds: Sequence[tuple[str, Mapping[str, Any]]], instruments: Mapping[str, str],
                       aggregate: Aggregate) -> TrialOutcome:
    """A trial on every instrument of a universe: per instrument as ``evaluate_trial`` for one (a failed
    instrument's value is undefined), then each objective aggregated over the instruments. The trial fails
    when an aggregate is undefined (``mean``, ``median``, ``min``: any instrument failed). The evaluation
    adds each instrument's own (``instruments``: its values, mean in-sample metrics and failure)."""
    by_symbol: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for fold_id, rec in folds:
        by_symbol.setdefault(instruments[fold_id], []).append((fold_id, rec))
    per: dict[str, TrialOutcome] = {s: evaluate_trial(objectives, constraints, by_symbol[s])
                                    for s in sorted(by_symbol)}
    values: list[float] = []
    reasons: list[str] = []
    for i, o in enumerate(objectives):
        rule = ObjectiveConfig(metric=o.metric, direction=o.direction, aggregate=aggregate)
        value = rule.aggregated([None if out.values is None else out.values[i] for out in per.values()])
        if value is None:
            failed = [f"{s}: {out.evaluation['fail_reason']}" for s, out in per.items() if out.values is None]
            reasons.append(f"{aggregate} of {o.metric} undefined ({'; '.join(failed[:MAX_REASONS])}"
                           + (f" (+{len(failed) - MAX_REASONS} more)" if len(failed) > MAX_REASONS else "") + ")")
        else:
            values.append(value)
    oos = [rec["out_of_sample"] for _, rec in folds]
    evaluation: dict[str, Any] = {
        "in_sample": mean_metrics([rec["in_sample"] for _, rec in folds]),
        "out_of_sample": mean_metrics(oos) if all(m is not None for m in oos) else None,
        "n_folds": len(folds),
        "fail_reason": "; ".join(reasons) if reasons else None,
        "aggregate": aggregate,
        "instruments": {s: {"values": out.values, "in_sample": out.evaluation["in_sample"],
                            "fail_reason": out.evaluation["fail_reason"]} for s, out in per.items()},
    }
    if reasons:
        return TrialOutcome("FAIL", None, evaluation)
    return TrialOutcome("COMPLETE", values, evaluation)
