"""Optuna coordination (DESIGN §3): studies in deterministic generations, storage in the artifact store.

The only package that imports optuna. Steps: ``init_study`` (manifest + storage), ``ask_generation``
→ ``generation_plan`` (evaluated by ``run-shard`` like any plan) → ``tell_generation``, and
``result_documents`` for finalize; ``run_worker`` / ``verify_trials`` for async mode. Data,
strategies and backtests stay behind callables the CLI passes in.
"""

from trading_runtime.optimize.generation import (
    AskedTrial,
    Told,
    ask_generation,
    generation_plan,
    tell_generation,
    trial_plan,
    write_generation_plan,
)
from trading_runtime.optimize.keys import GENERATION_WIDTH, MAX_GENERATIONS, StudyKeys, generation_label
from trading_runtime.optimize.objective import TrialOutcome, evaluate_trial, trial_run_id
from trading_runtime.optimize.results import BestEvaluation, TrialRecord, result_documents, select_best, trial_records
from trading_runtime.optimize.storage import open_url_storage, stored_storage
from trading_runtime.optimize.study import StudyManifest, init_study, plan_study, read_manifest, study_status
from trading_runtime.optimize.worker import VerifyReport, run_worker, verify_trials

__all__ = [
    "GENERATION_WIDTH", "MAX_GENERATIONS", "AskedTrial", "BestEvaluation", "StudyKeys", "StudyManifest", "Told",
    "TrialOutcome", "TrialRecord", "VerifyReport", "ask_generation", "evaluate_trial", "generation_label",
    "generation_plan", "init_study", "open_url_storage", "plan_study", "read_manifest", "result_documents",
    "run_worker", "select_best", "stored_storage", "study_status", "tell_generation", "trial_plan",
    "trial_records", "trial_run_id", "verify_trials", "write_generation_plan",
]
