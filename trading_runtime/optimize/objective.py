"""A trial's value from its runs: the in-sample objective, averaged over the validation folds.

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

from trading_runtime.config.experiment import OBJECTIVE_METRICS, ConstraintsConfig, ObjectiveConfig, ObjectiveSpec

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
    """Each metric's mean over the folds (math.fsum, fold order); null where any fold's is null."""
    if not per_fold or any(m is None for m in per_fold):
        return None
    out: dict[str, Any] = {}
    for name in OBJECTIVE_METRICS:
        vals = [m[name] for m in per_fold if m is not None]
        if any(v is None or not math.isfinite(float(v)) for v in vals):
            out[name] = None
        else:
            out[name] = math.fsum(float(v) for v in vals) / len(vals)
    return out


def invalid_outcome(reason: str) -> TrialOutcome:
    return TrialOutcome("FAIL", None, {"fail_reason": f"invalid parameters: {reason}", "in_sample": None,
                                       "out_of_sample": None, "n_folds": 0})


def evaluate_trial(objectives: Sequence[ObjectiveSpec], constraints: ConstraintsConfig,
                   folds: Sequence[tuple[str, Mapping[str, Any]]]) -> TrialOutcome:
    """``folds``: (fold id, run record with ``in_sample``/``out_of_sample`` metrics) in fold order."""
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
