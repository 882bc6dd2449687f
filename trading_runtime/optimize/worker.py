"""Async mode: workers sharing one Optuna storage (RDB or journal), and ``verify``.

Async mode trades determinism of the *search* for throughput: each worker asks, evaluates and
tells one trial at a time on the shared storage, so which parameters trial n gets depends on what
the other workers had told by then — trial order and proposals are NOT reproducible. Every trial's
*value* still is: it is a pure function of its parameters (same data, config and code), which
:func:`verify_trials` checks by re-evaluating a seeded sample of trials and comparing exactly.

The trial budget is soft: a worker stops once the study holds ``n_trials`` trials, so concurrent
workers may overshoot by at most (workers − 1) trials.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from trading_runtime.errors import TransientError
from trading_runtime.optimize.generation import record_outcome
from trading_runtime.optimize.objective import EVALUATION_ATTR, TrialOutcome, evaluate_trial, invalid_outcome
from trading_runtime.optimize.sampler import build_sampler
from trading_runtime.optimize.space import distributions, trial_params
from trading_runtime.optimize.study import StudyManifest, create_or_load

__all__ = ["Evaluate", "VerifyReport", "outcome_of", "run_worker", "verify_trials"]

log = logging.getLogger(__name__)

# (trial number, params) → (fold id, run record) per fold, in fold order.
Evaluate = Callable[[int, dict[str, Any]], Sequence[tuple[str, Mapping[str, Any]]]]
ParamsCheck = Callable[[dict[str, Any]], str | None]


def outcome_of(manifest: StudyManifest, number: int, params: dict[str, Any], evaluate: Evaluate,
               check: ParamsCheck) -> TrialOutcome:
    reason = check(params)
    if reason is not None:
        return invalid_outcome(reason)
    sweep = manifest.sweep
    return evaluate_trial(sweep.objectives, sweep.constraints, evaluate(number, params), manifest.fold_instruments(),
                          manifest.config.objective)


def run_worker(storage: optuna.storages.BaseStorage, manifest: StudyManifest, evaluate: Evaluate,
               check: ParamsCheck, n_trials: int, worker_index: int,
               progress: Callable[[int, int, TrialOutcome], None] | None = None) -> int:
    """Run up to ``n_trials`` trials on the shared study; returns how many this worker finished.

    A database that goes away mid-run is a transient error (exit 75): the trial it held stays RUNNING
    and is not counted as told; rerun the worker.
    """
    import sqlalchemy.exc

    try:
        return _run_worker(storage, manifest, evaluate, check, n_trials, worker_index, progress)
    except sqlalchemy.exc.OperationalError as e:
        first = str(e.orig if e.orig is not None else e).strip().splitlines()[0]
        raise TransientError(f"study {manifest.study_id}: the shared storage failed: {first}") from None


def _run_worker(storage: optuna.storages.BaseStorage, manifest: StudyManifest, evaluate: Evaluate,
                check: ParamsCheck, n_trials: int, worker_index: int,
                progress: Callable[[int, int, TrialOutcome], None] | None) -> int:
    sampler = build_sampler(manifest.sweep.sampler, f"async/{worker_index}", manifest.batch_size)
    study = create_or_load(storage, manifest, sampler)
    dists = distributions(manifest.search_space)
    space = manifest.search_space
    fixed = manifest.config.strategy.params
    done = 0
    for _ in range(n_trials):
        if len(study.get_trials(deepcopy=False)) >= manifest.n_trials:
            log.info("study %s holds %d trials: budget reached", manifest.study_id, manifest.n_trials)
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = study.ask(dists)
        params = trial_params(space, trial.params, fixed)
        try:
            outcome = outcome_of(manifest, trial.number, params, evaluate, check)
        except BaseException as e:
            fail = TrialOutcome("FAIL", None, {"fail_reason": f"error: {type(e).__name__}: {e}", "in_sample": None,
                                               "out_of_sample": None, "n_folds": -1})
            record_outcome(storage, study, trial.number, fail)
            raise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record_outcome(storage, study, trial.number, outcome)
        done += 1
        if progress is not None:
            progress(done, trial.number, outcome)
    return done


@dataclass
class VerifyReport:
    study_id: str
    seed: int
    finished: int
    checked: list[int] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"study_id": self.study_id, "seed": self.seed, "finished_trials": self.finished,
                "checked": self.checked, "n_checked": len(self.checked), "mismatches": self.mismatches,
                "ok": not self.mismatches}


def sample_trials(numbers: Sequence[int], sample: int, seed: int) -> list[int]:
    """A seeded sample of trial numbers (sha256 order; stable whatever the storage's order), sorted."""
    ranked = sorted(numbers, key=lambda n: hashlib.sha256(f"{seed}/verify/{n}".encode()).hexdigest())
    return sorted(ranked[:sample])


def verify_trials(study: optuna.Study, manifest: StudyManifest, evaluate: Evaluate, check: ParamsCheck,
                  sample: int, seed: int) -> VerifyReport:
    """Re-evaluate a sample of finished trials; any difference in state, values or metrics is a mismatch."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)
              if t.state in (TrialState.COMPLETE, TrialState.FAIL) and EVALUATION_ATTR in t.user_attrs
              and t.user_attrs[EVALUATION_ATTR].get("n_folds", 0) >= 0}
    report = VerifyReport(manifest.study_id, seed, len(trials))
    space = manifest.search_space
    fixed = manifest.config.strategy.params
    for n in sample_trials(list(trials), sample, seed):
        t = trials[n]
        params = trial_params(space, t.params, fixed)
        again = outcome_of(manifest, n, params, evaluate, check)
        stored_values = [float(v) for v in t.values] if t.state == TrialState.COMPLETE and t.values else None
        problems = []
        if again.state != t.state.name:
            problems.append(f"state {t.state.name} != re-evaluated {again.state}")
        if again.values != stored_values:
            problems.append(f"values {stored_values} != re-evaluated {again.values}")
        if again.evaluation != t.user_attrs[EVALUATION_ATTR]:
            problems.append("metrics differ from the re-evaluation")
        report.checked.append(n)
        if problems:
            report.mismatches.append({"number": n, "params": params, "problems": problems})
    return report
