"""The Optuna study's steps (init, ask, tell, finalize; the async worker and verify) below the CLI.

Each is one function of (store, manifest, ...) that the CLI step calls after parsing its arguments;
the local all-in-one search (``orchestration.search``) runs the same functions in a loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.execution.curves import derive_curves
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    inputs_for_plan,
    load_inputs,
    params_check,
    run_shard,
    universe_plan_data,
)
from trading_runtime.execution.search import declared_space, evaluate_plan, warmup_of
from trading_runtime.execution.strategy_loader import load_strategy_class
from trading_runtime.fanin import collect_shards
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.optimize import (
    AskedTrial,
    BestEvaluation,
    StudyManifest,
    Told,
    VerifyReport,
    ask_generation,
    evaluate_trial,
    generation_label,
    generation_plan,
    init_study,
    open_url_storage,
    plan_study,
    result_documents,
    run_worker,
    select_best,
    tell_generation,
    trial_plan,
    trial_records,
    verify_trials,
    write_generation_plan,
)
from trading_runtime.optimize.study import create_or_load, stored_study
from trading_runtime.planning import Plan, read_plan, write_plan
from trading_runtime.planning.curves import write_curves
from trading_runtime.store import ArtifactStore, is_complete, write_complete

log = logging.getLogger(__name__)

Check = Callable[[dict[str, Any]], str | None]


# ---------------------------------------------------------------------------------------------- shared

def study_manifest(inputs: ExperimentInputs, storage_format: str = "journal") -> StudyManifest:
    cfg = inputs.config
    universe = universe_plan_data(inputs)
    ts = inputs.one().bars.ts if universe is None else universe[0].ts
    cls = inputs.strategy_cls
    return plan_study(cfg, inputs.source, inputs.data_ref(), ts, cfg.data.timeframe_seconds, declared_space(cls),
                      params_check(cls, inputs.source), warmup_of(cls),
                      "sqlite" if storage_format == "sqlite" else "journal", universe)


def _empty_plan(manifest: StudyManifest) -> Plan:
    return trial_plan(manifest, f"{manifest.study_id}.inputs", [], 1)


def study_inputs(manifest: StudyManifest, cwd: Path, prefixes: tuple[str, ...], data: Any = None) -> ExperimentInputs:
    """The data and strategy of a study (the data checked against the manifest's sha256)."""
    return inputs_for_plan(_empty_plan(manifest), cwd, prefixes, data=data)


def params_check_of(manifest: StudyManifest, inputs: ExperimentInputs) -> Check:
    return params_check(inputs.strategy_cls, f"study {manifest.study_id}")


def strategy_check(manifest: StudyManifest, prefixes: tuple[str, ...]) -> Check:
    source = f"study {manifest.study_id}"
    cls = load_strategy_class(manifest.config.strategy.class_path, source, prefixes)
    return params_check(cls, source)


def trial_evaluator(manifest: StudyManifest,
                    inputs: ExperimentInputs) -> Callable[[int, dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    def evaluate(number: int, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        plan = trial_plan(manifest, f"{manifest.study_id}.t{number:06d}", [AskedTrial(number, params)],
                          len(manifest.folds))
        records = evaluate_plan(plan, inputs)
        return [(rec["fold"], rec) for rec in records]
    return evaluate


def _collect(store: ArtifactStore, plan: Plan) -> Callable[[], dict[str, Mapping[str, Any]]]:
    def load() -> dict[str, Mapping[str, Any]]:
        fan = collect_shards(store, plan)
        fan.require_complete()
        return {rec["run_id"]: rec for s in fan.shards for rec in (s.result or {}).get("runs", [])}
    return load


def _read_generation_plan(store: ArtifactStore, manifest: StudyManifest, g: int) -> Plan:
    experiment = manifest.keys.generation_experiment(g)
    try:
        return read_plan(store, experiment)
    except InputError:
        raise InputError(f"{store.uri}: study '{manifest.study_id}': generation {generation_label(g)} has no plan "
                         f"(run 'optimize ask --generation {generation_label(g)}' first)") from None


# ---------------------------------------------------------------------------------------------- steps

def create_study(config: ExperimentConfig, source: str, store: ArtifactStore, cwd: Path, prefixes: tuple[str, ...],
                 storage_format: str) -> StudyManifest:
    """``optimize init``: the study's manifest and storage in the store (idempotent)."""
    inputs = load_inputs(config, source, cwd, prefixes)
    stored, created = init_study(store, study_manifest(inputs, storage_format))
    log.info("study %s %s: %d trials in %d generations of %d, %d fold(s), sampler %s seed %d, storage %s",
             stored.study_id, "created" if created else "exists", stored.n_trials, stored.n_generations,
             stored.batch_size, len(stored.folds), stored.sweep.sampler.name, stored.sweep.sampler.seed,
             stored.storage_format, extra={"experiment": stored.study_id})
    return stored


def ask(store: ArtifactStore, manifest: StudyManifest, g: int, check: Check, runs_per_shard: int, *,
        durable: bool = True) -> Plan:
    """Ask generation ``g``'s trials and write its plan (the experiment ``<study>.g<gggg>``).

    The plan is one sealed object (``optimize.write_generation_plan``). ``durable=False`` (the all-in-one, which
    tells in the same process): the plan is stored, the asked trials only kept in memory for the tell
    (``optimize.ask_generation``)."""
    asked = ask_generation(store, manifest, g, check, durable=durable)
    plan = generation_plan(manifest, g, asked, runs_per_shard)
    write_generation_plan(store, plan)
    return plan


def ask_shards(store: ArtifactStore, manifest: StudyManifest, g: int, prefixes: tuple[str, ...],
               runs_per_shard: int | None, pending_only: bool) -> list[str]:
    """``optimize ask``: generation ``g``'s plan written; its shard ids (only the incomplete ones with
    ``pending_only``)."""
    per = runs_per_shard or manifest.config.shards.runs_per_shard
    plan = ask(store, manifest, g, strategy_check(manifest, prefixes), per)
    shards = [s.shard_id for s in plan.shards]
    if pending_only:
        shards = [sid for sid in shards if not is_complete(store, plan.keys.shard_result(sid))]
    log.info("generation %s: experiment %s, %d runs in %d shards", generation_label(g),
             plan.experiment_id, len(plan.runs), len(plan.shards), extra={"experiment": plan.experiment_id})
    return shards


def tell(store: ArtifactStore, manifest: StudyManifest, g: int, *, durable: bool = True) -> Told:
    """Tell generation ``g``'s shard results in trial order (exit 3 naming missing shards).

    ``durable=False`` (the all-in-one): stored every few generations, and by ``flush_storage``."""
    plan = _read_generation_plan(store, manifest, g)
    return tell_generation(store, manifest, g, _collect(store, plan), durable=durable)


def finalize_study(store: ArtifactStore, manifest: StudyManifest, cwd: Path, prefixes: tuple[str, ...],
                   provenance: Mapping[str, Any], partial: bool = False, data: Any = None) -> str:
    """Write the result documents; returns the results folder's key."""
    keys = manifest.keys
    bars_per_year = manifest.config.data.annualisation
    with stored_study(store, manifest) as study:
        trials = study.get_trials(deepcopy=False)
        records = trial_records(trials, manifest)
        finished = sum(1 for r in records if r.state in ("COMPLETE", "FAIL"))
        if finished < manifest.n_trials and not partial:
            raise VerificationError(f"study {manifest.study_id}: {finished} of {manifest.n_trials} trials told; "
                                    f"run the remaining generations (or finalize --partial)")
        best = select_best(records, manifest.directions)
        best_eval = evaluate_best(store, manifest, best, cwd, prefixes, data) if best is not None else None
        docs = result_documents(manifest, study, records, best, best_eval, bars_per_year, dict(provenance))
    for name in sorted(docs):
        write_complete(store, keys.result(name), canonical_bytes(docs[name]))
    b = docs["best_parameters.json"]
    log.info("study %s: best trial %s params %s values %s; results %s", manifest.study_id, b["trial"], b["params"],
             b["values"], keys.results, extra={"experiment": manifest.study_id})
    return keys.results


def evaluate_best(store: ArtifactStore, manifest: StudyManifest, best: Any, cwd: Path, prefixes: tuple[str, ...],
                  data: Any) -> BestEvaluation:
    """Re-evaluate the best trial as experiment ``<study>.best`` in the store (its plan, one shard, and the
    equity curves of every fold derived as finalize derives them: curves.json + curves.f64), and check it
    reproduces the values it was told with."""
    plan = trial_plan(manifest, manifest.keys.best_experiment, [AskedTrial(best.number, best.params)],
                      len(manifest.folds))
    write_plan(store, plan)
    inputs = inputs_for_plan(plan, cwd, prefixes, data=data)
    shard = plan.shards[0].shard_id
    run_shard(store, plan, shard, inputs)
    status = collect_shards(store, plan).shards[0]
    if status.state != "completed" or status.result is None:
        raise VerificationError(f"experiment {plan.experiment_id}: shard {shard}: {status.state}: {status.reason}")
    folds = [(rec["fold"], rec) for rec in status.result["runs"]]
    sweep = manifest.sweep
    again = evaluate_trial(sweep.objectives, sweep.constraints, folds, manifest.fold_instruments(),
                           manifest.config.objective)
    if again.values != best.values or again.evaluation != best.evaluation:
        raise VerificationError(f"study {manifest.study_id}: trial {best.number} re-evaluated gives values "
                                f"{again.values}, told {best.values}: the evaluation is not deterministic")
    curves = derive_curves(plan, inputs, [rec["run_id"] for _, rec in folds])
    write_curves(store, plan.keys, curves, {rec["run_id"]: fold for fold, rec in folds})
    return BestEvaluation(folds, [curves[rec["run_id"], "in_sample"][1] for _, rec in folds])


# ---------------------------------------------------------------------------------------------- async mode

def run_async_worker(config: ExperimentConfig, source: str, storage_url: str, cwd: Path, prefixes: tuple[str, ...],
                     n_trials: int, worker_index: int,
                     progress: Callable[[StudyManifest], Callable[[int], None]]) -> tuple[StudyManifest, int]:
    """``optimize worker``: up to ``n_trials`` trials on a shared Optuna storage; (manifest, trials run).

    ``progress(manifest)`` gives the callback told the number of trials done after each trial."""
    t0 = time.perf_counter()
    inputs = load_inputs(config, source, cwd, prefixes)
    manifest = study_manifest(inputs)
    storage = open_url_storage(storage_url, cwd)
    ctx = {"experiment": manifest.study_id}
    log.info("async worker %d: study %s on %s, up to %d trials (async mode: trial order is not deterministic)",
             worker_index, manifest.study_id, storage_url.rsplit("@", maxsplit=1)[-1], n_trials, extra=ctx)
    on_trial = progress(manifest)
    n = run_worker(storage, manifest, trial_evaluator(manifest, inputs), params_check_of(manifest, inputs), n_trials,
                   worker_index, lambda done, number, outcome: on_trial(done))
    log.info("async worker %d: %d trials in %.1fs", worker_index, n, time.perf_counter() - t0, extra=ctx)
    return manifest, n


def verify_async_study(config: ExperimentConfig, source: str, storage_url: str, cwd: Path,
                       prefixes: tuple[str, ...], sample: int, seed: int) -> VerifyReport:
    """``optimize verify --storage``: re-evaluate a seeded sample of an async study's finished trials."""
    inputs = load_inputs(config, source, cwd, prefixes)
    manifest = study_manifest(inputs)
    study = create_or_load(open_url_storage(storage_url, cwd), manifest)
    return verify_trials(study, manifest, trial_evaluator(manifest, inputs), params_check_of(manifest, inputs),
                         sample, seed)


def verify_stored_study(store: ArtifactStore, manifest: StudyManifest, cwd: Path, prefixes: tuple[str, ...],
                        sample: int, seed: int) -> VerifyReport:
    """``optimize verify --store``: the same for a generation-mode study in the store."""
    inputs = study_inputs(manifest, cwd, prefixes)
    with stored_study(store, manifest) as study:
        return verify_trials(study, manifest, trial_evaluator(manifest, inputs), params_check_of(manifest, inputs),
                             sample, seed)
