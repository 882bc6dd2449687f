"""The optimize steps (init, status, ask, tell, finalize, worker, verify) and what they share.

Each parses nothing itself: cli/optimize.py declares the arguments and dispatches here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.progress import PeriodicProgress
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.execution.experiment import (
    ExperimentInputs,
    data_ref,
    inputs_for_plan,
    load_inputs,
    params_check,
    read_plan,
    run_shard,
    write_plan,
)
from trading_runtime.execution.search import declared_space, evaluate_plan, warmup_of
from trading_runtime.execution.shard import read_equity_series
from trading_runtime.fanin import collect_shards
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.optimize import (
    AskedTrial,
    BestEvaluation,
    StudyManifest,
    Told,
    ask_generation,
    evaluate_trial,
    generation_label,
    generation_plan,
    init_study,
    open_url_storage,
    plan_study,
    read_manifest,
    result_documents,
    run_worker,
    select_best,
    study_status,
    tell_generation,
    trial_plan,
    trial_records,
    verify_trials,
)
from trading_runtime.optimize.study import create_or_load, stored_study
from trading_runtime.planning import Plan
from trading_runtime.store import ArtifactStore, is_complete, open_store, write_complete

log = logging.getLogger(__name__)

STEPS = ("run", "init", "status", "ask", "tell", "finalize", "worker", "verify")



# ---------------------------------------------------------------------------------------------- shared

def _load_config(source: str) -> ExperimentConfig:
    return load_config(ExperimentConfig, source)


def _manifest(inputs: ExperimentInputs, storage_format: str = "journal") -> StudyManifest:
    cfg, bars = inputs.config, inputs.data.bars
    cls = inputs.strategy_cls
    return plan_study(cfg, inputs.source, data_ref(inputs), bars.ts, cfg.data.timeframe_seconds, declared_space(cls),
                      params_check(cls, inputs.source), warmup_of(cls),
                      "sqlite" if storage_format == "sqlite" else "journal")


def _empty_plan(manifest: StudyManifest) -> Plan:
    return trial_plan(manifest, f"{manifest.study_id}.inputs", [], 1)


def _study_inputs(manifest: StudyManifest, prefixes: tuple[str, ...], data: Any = None) -> ExperimentInputs:
    """The data and strategy of a study (the data checked against the manifest's sha256)."""
    return inputs_for_plan(_empty_plan(manifest), Path.cwd(), prefixes, data=data)


def _check_of(manifest: StudyManifest, inputs: ExperimentInputs) -> Callable[[dict[str, Any]], str | None]:
    return params_check(inputs.strategy_cls, f"study {manifest.study_id}")


def _strategy_check(manifest: StudyManifest, prefixes: tuple[str, ...]) -> Callable[[dict[str, Any]], str | None]:
    from trading_runtime.execution.strategy_loader import load_strategy_class

    source = f"study {manifest.study_id}"
    cls = load_strategy_class(manifest.experiment_config.strategy.class_path, source, prefixes)
    return params_check(cls, source)


def _evaluator(manifest: StudyManifest,
               inputs: ExperimentInputs) -> Callable[[int, dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    def evaluate(number: int, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        plan = trial_plan(manifest, f"{manifest.study_id}.t{number:06d}", [AskedTrial(number, params)],
                          len(manifest.folds))
        records, _ = evaluate_plan(plan, inputs)
        return [(rec["fold"], rec) for rec in records]
    return evaluate


def _next_text(nxt: int | None) -> str:
    return "done" if nxt is None else generation_label(nxt)


def _collect(store: ArtifactStore, plan: Plan) -> Callable[[], dict[str, Mapping[str, Any]]]:
    def load() -> dict[str, Mapping[str, Any]]:
        fan = collect_shards(store, plan)
        if not fan.complete:
            counts = fan.run_counts()
            raise VerificationError(
                f"experiment {plan.experiment_id}: {len(fan.ids('completed'))} of {len(plan.shards)} shards complete "
                f"({len(fan.ids('failed'))} failed, {len(fan.ids('missing'))} missing); runs {counts['completed']} "
                f"of {counts['expected']}", *fan.problems())
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

def cmd_init(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    inputs = load_inputs(config, config_name(args.config), Path.cwd(), allowed_prefixes(args))
    manifest = _manifest(inputs, args.storage_format)
    store = open_store(args.store or config.store, Path.cwd())
    stored, created = init_study(store, manifest)
    log.info("study %s %s: %d trials in %d generations of %d, %d fold(s), sampler %s seed %d, storage %s",
             stored.study_id, "created" if created else "exists", stored.n_trials, stored.n_generations,
             stored.batch_size, len(stored.folds), stored.sweep.sampler.name, stored.sweep.sampler.seed,
             stored.storage_format, extra={"experiment": stored.study_id})
    sys.stdout.write(stored.study_id + "\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    status = study_status(store, manifest)
    if args.json:
        sys.stdout.write(json.dumps(status, sort_keys=True) + "\n")
    else:
        sys.stdout.write(("done" if status["done"] else status["next_generation"]) + "\n")
    return 0


def _ask(store: ArtifactStore, manifest: StudyManifest, g: int, check: Callable[[dict[str, Any]], str | None],
         runs_per_shard: int) -> Plan:
    asked = ask_generation(store, manifest, g, check)
    plan = generation_plan(manifest, g, asked, runs_per_shard)
    write_plan(store, plan)
    return plan


def cmd_ask(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    per = args.runs_per_shard or manifest.experiment_config.shards.runs_per_shard
    plan = _ask(store, manifest, args.generation, _strategy_check(manifest, allowed_prefixes(args)), per)
    shards = [s.shard_id for s in plan.shards]
    if args.pending_only:
        shards = [sid for sid in shards if not is_complete(store, plan.keys.shard_result(sid))]
    log.info("generation %s: experiment %s, %d runs in %d shards", generation_label(args.generation),
             plan.experiment_id, len(plan.runs), len(plan.shards), extra={"experiment": plan.experiment_id})
    sys.stdout.write(json.dumps(shards) + "\n")
    return 0


def _tell(store: ArtifactStore, manifest: StudyManifest, g: int) -> Told:
    plan = _read_generation_plan(store, manifest, g)
    return tell_generation(store, manifest, g, _collect(store, plan))


def cmd_tell(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    told = _tell(store, manifest, args.generation)
    sys.stdout.write(_next_text(told.next_generation) + "\n")
    return 0


def finalize_study(store: ArtifactStore, manifest: StudyManifest, prefixes: tuple[str, ...], partial: bool = False,
                   data: Any = None) -> str:
    """Write the result documents; returns the results folder's key."""
    keys = manifest.keys
    bar_seconds = manifest.experiment_config.data.timeframe_seconds
    with stored_study(store, manifest) as study:
        trials = study.get_trials(deepcopy=False)
        records = trial_records(trials, manifest)
        finished = sum(1 for r in records if r.state in ("COMPLETE", "FAIL"))
        if finished < manifest.n_trials and not partial:
            raise VerificationError(f"study {manifest.study_id}: {finished} of {manifest.n_trials} trials told; "
                                    f"run the remaining generations (or finalize --partial)")
        best = select_best(records, manifest.directions)
        best_eval = _evaluate_best(store, manifest, best, prefixes, data) if best is not None else None
        docs = result_documents(manifest, study, records, best, best_eval, 365 * 86400 / bar_seconds, provenance())
    for name in sorted(docs):
        write_complete(store, keys.result(name), canonical_bytes(docs[name]))
    b = docs["best_parameters.json"]
    log.info("study %s: best trial %s params %s values %s; results %s", manifest.study_id, b["trial"], b["params"],
             b["values"], keys.results, extra={"experiment": manifest.study_id})
    return keys.results


def _evaluate_best(store: ArtifactStore, manifest: StudyManifest, best: Any, prefixes: tuple[str, ...],
                   data: Any) -> BestEvaluation:
    """Re-evaluate the best trial as experiment ``<study>.best`` in the store (its plan, one shard with the
    equity of every fold), and check it reproduces the values it was told with."""
    plan = trial_plan(manifest, manifest.keys.best_experiment, [AskedTrial(best.number, best.params)],
                      len(manifest.folds))
    write_plan(store, plan)
    inputs = inputs_for_plan(plan, Path.cwd(), prefixes, data=data)
    shard = plan.shards[0].shard_id
    run_shard(store, plan, shard, inputs)
    status = collect_shards(store, plan).shards[0]
    if status.state != "completed" or status.result is None or status.equity is None:
        raise VerificationError(f"experiment {plan.experiment_id}: shard {shard}: {status.state}: {status.reason}")
    folds = [(rec["fold"], rec) for rec in status.result["runs"]]
    sweep = manifest.sweep
    again = evaluate_trial(sweep.objectives, sweep.constraints, folds)
    if again.values != best.values or again.evaluation != best.evaluation:
        raise VerificationError(f"study {manifest.study_id}: trial {best.number} re-evaluated gives values "
                                f"{again.values}, told {best.values}: the evaluation is not deterministic")
    series = {(e["run_id"], e["segment"]): e for e in status.result["equity"]["series"]}
    try:
        in_sample = [read_equity_series(status.equity, series[(rec["run_id"], "in_sample")])[1] for _, rec in folds]
    except KeyError as e:
        raise VerificationError(f"study {manifest.study_id}: trial {best.number}: no in-sample equity kept for "
                                f"{e.args[0]}") from None
    return BestEvaluation(folds, in_sample)


def cmd_finalize(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    key = finalize_study(store, manifest, allowed_prefixes(args), args.partial)
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}/\n")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    prefixes = allowed_prefixes(args)
    config = _load_config(args.config)
    inputs = load_inputs(config, config_name(args.config), Path.cwd(), prefixes)
    manifest = _manifest(inputs)
    storage = open_url_storage(args.storage, Path.cwd())
    ctx = {"experiment": manifest.study_id}
    log.info("async worker %d: study %s on %s, up to %d trials (async mode: trial order is not deterministic)",
             args.worker_index, manifest.study_id, args.storage.split("@")[-1], args.n_trials, extra=ctx)
    progress = PeriodicProgress(log, args.n_trials, "trials", ctx, every_items=max(1, args.n_trials // 10))
    n = run_worker(storage, manifest, _evaluator(manifest, inputs), _check_of(manifest, inputs), args.n_trials,
                   args.worker_index, lambda done, number, outcome: progress.update(done))
    log.info("async worker %d: %d trials in %.1fs", args.worker_index, n, time.perf_counter() - t0, extra=ctx)
    sys.stdout.write(json.dumps({"study": manifest.study_id, "trials": n}) + "\n")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    prefixes = allowed_prefixes(args)
    if args.storage is not None:
        if args.config is None:
            raise InputError("optimize verify: --storage needs --config (the experiment config of the study)")
        config = _load_config(args.config)
        inputs = load_inputs(config, config_name(args.config), Path.cwd(), prefixes)
        manifest = _manifest(inputs)
        storage = open_url_storage(args.storage, Path.cwd())
        study = create_or_load(storage, manifest)
        report = verify_trials(study, manifest, _evaluator(manifest, inputs), _check_of(manifest, inputs),
                               args.sample, args.seed)
    else:
        if args.store is None or args.study is None:
            raise InputError("optimize verify: give --storage URL --config F (async) or --store S --study ID")
        store = open_store(args.store, Path.cwd())
        manifest = read_manifest(store, args.study)
        inputs = _study_inputs(manifest, prefixes)
        with stored_study(store, manifest) as study:
            report = verify_trials(study, manifest, _evaluator(manifest, inputs), _check_of(manifest, inputs),
                                   args.sample, args.seed)
    doc = report.document()
    sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
    if report.mismatches:
        raise VerificationError(*(f"study {report.study_id}: trial {m['number']}: {'; '.join(m['problems'])}"
                                  for m in report.mismatches),
                                f"verify: {len(report.mismatches)} of {len(report.checked)} trials differ")
    log.info("verify: %d trials re-evaluated, all identical", len(report.checked))
    return 0
