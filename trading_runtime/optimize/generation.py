"""One generation: ``ask`` a batch, evaluate it as an ordinary plan's shards, ``tell`` it in trial order.

Generation ``g`` holds trials ``g·batch_size … min((g+1)·batch_size, n_trials) − 1``: numbered
before dispatch, by the storage. ``ask`` builds the sampler for ``generation/<gggg>`` and asks
the whole batch in one step, so what is asked depends only on (seed, g, trials told before).
Its plan is an ordinary experiment plan (``<study>.g<gggg>``, runs = trial × fold, run ids
carrying the trial number) that ``run-shard`` evaluates unchanged. ``tell`` reads every run's
record, computes the trials' values (objective.py) and tells them in trial-number order. What the
tell reports of the trials told before (how many, the best so far) the ask carries to it in a study
system attribute (``TOLD_BEFORE_ATTR``, an ordinary journal operation), so that a tell reads none of
them; a generation asked without it (an earlier version) is told by reading them.

Both steps are idempotent: re-asking an asked generation returns the same trials (and plan);
re-telling a told one changes nothing. Steps out of order are refused (exit 2).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import optuna.study._tell
from optuna.trial import TrialState

from trading_runtime.config.experiment import ExperimentConfig, OptunaSweep
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.optimize.journal_storage import HistoryNotReadError, JournalMemoryStorage
from trading_runtime.optimize.keys import generation_label
from trading_runtime.optimize.objective import (
    EVALUATION_ATTR,
    TrialOutcome,
    evaluate_trial,
    invalid_outcome,
    trial_run_id,
)
from trading_runtime.optimize.sampler import build_sampler
from trading_runtime.optimize.space import distributions, trial_params
from trading_runtime.optimize.storage import stored_storage
from trading_runtime.optimize.study import StudyManifest, Trialish, load_study, next_generation, primary_objective
from trading_runtime.planning import ExperimentKeys, Plan, PlannedRun, shard_runs, write_plan
from trading_runtime.planning.plan import PLAN_SCHEMA_VERSION
from trading_runtime.store import ArtifactStore, marker_key
from trading_runtime.store.sealed import write_sealed

__all__ = ["AskedTrial", "ask_generation", "generation_plan", "record_outcome", "tell_generation", "trial_plan",
           "write_generation_plan"]

log = logging.getLogger(__name__)

ParamsCheck = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class AskedTrial:
    number: int
    params: dict[str, Any]
    invalid: str | None = None  # why the strategy rejects the params (the trial is told FAIL at once)


def _check_generation(manifest: StudyManifest, g: int) -> None:
    if not 0 <= g < manifest.n_generations:
        raise InputError(f"--generation: study '{manifest.study_id}' has generations {generation_label(0)}.."
                         f"{generation_label(manifest.n_generations - 1)} (got {g})")


def _sampler_label(g: int) -> str:
    return f"generation/{generation_label(g)}"


def _asked_from_storage(manifest: StudyManifest, trials: list[optuna.trial.FrozenTrial]) -> list[AskedTrial]:
    space = manifest.search_space
    fixed = manifest.config.strategy.params
    out = []
    for t in trials:
        reason = None
        evaluation = t.user_attrs.get(EVALUATION_ATTR)
        if t.state == TrialState.FAIL and evaluation and evaluation.get("n_folds") == 0:
            reason = str(evaluation.get("fail_reason", "")).removeprefix("invalid parameters: ")
        out.append(AskedTrial(t.number, trial_params(space, t.params, fixed), reason))
    return out


def record_outcome(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int,
                   outcome: TrialOutcome) -> None:
    """Attach the evaluation and finish trial ``number`` with the outcome's state and values."""
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    storage.set_trial_user_attr(trial_id, EVALUATION_ATTR, outcome.evaluation)
    if outcome.state == "COMPLETE":
        _tell(study, number, outcome.values, None)
    else:
        _tell(study, number, None, TrialState.FAIL)


def _tell(study: optuna.Study, number: int, values: list[float] | None, state: TrialState | None) -> None:
    """``study.tell`` without its deep copy of the told trial (with its evaluation), which is not used."""
    tell = getattr(optuna.study._tell, "_tell_with_warning", None)
    if tell is None:  # another Optuna: the public way
        study.tell(number, values, state=state)
    else:
        tell(study=study, trial=number, value_or_values=values, state=state)


def ask_generation(store: ArtifactStore, manifest: StudyManifest, g: int, check: ParamsCheck, *,
                   durable: bool = True) -> list[AskedTrial]:
    """Ask generation ``g``'s trials (or return them when already asked), numbered, in order.

    ``durable=False``: the asked trials are not stored, only kept for the tell of this generation in this
    process (the local all-in-one; see ``storage.stored_storage``); re-asking gives the same trials.
    """
    _check_generation(manifest, g)
    wanted = manifest.generation_trials(g)
    with stored_storage(store, manifest.storage_location, step="asked" if durable else "asked-in-memory",
                        evaluations=False) as storage:
        study = load_study(storage, manifest, build_sampler(manifest.sweep.sampler, _sampler_label(g),
                                                            manifest.batch_size))
        trials = study.get_trials(deepcopy=False)
        if len(trials) >= wanted.stop:
            return _asked_from_storage(manifest, trials[wanted.start:wanted.stop])
        if len(trials) != wanted.start:
            raise InputError(f"--generation: cannot ask generation {generation_label(g)} of study "
                             f"'{manifest.study_id}': it holds {len(trials)} trials; generations are asked in "
                             f"order (next: {generation_label(len(trials) // manifest.batch_size)})")
        # The trials told before the previous generation are known finished, with their best, from the attribute its
        # ask set: only the trials from there on are read (every earlier one: when it set none).
        start, best_before = _told_before_previous(manifest, storage, study, g)
        pending = next_generation(manifest, trials[start:], start)
        if pending is not None and pending < g:
            raise InputError(f"--generation: cannot ask generation {generation_label(g)} of study "
                             f"'{manifest.study_id}': generation {generation_label(pending)} is not told yet "
                             f"(run 'optimize tell --generation {generation_label(pending)}')")
        # What the tell needs of the trials told before (carried in the asked operations: it then reads none of them)
        storage.set_study_system_attr(study._study_id, TOLD_BEFORE_ATTR,
                                      _told_before(manifest, g, trials[start:], start, best_before))
        dists = distributions(manifest.search_space)
        space = manifest.search_space
        fixed = manifest.config.strategy.params
        asked: list[AskedTrial] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # samplers' advisory warnings (experimental, independent sampling)
            for _ in wanted:
                trial = study.ask(dists)
                params = trial_params(space, trial.params, fixed)
                asked.append(AskedTrial(trial.number, params, check(params)))
            for a in asked:
                if a.invalid is not None:
                    record_outcome(storage, study, a.number, invalid_outcome(a.invalid))
        if [a.number for a in asked] != list(wanted):
            raise VerificationError(f"study '{manifest.study_id}': asked trials {[a.number for a in asked]}, "
                                    f"expected {list(wanted)} (was the storage changed by another process?)")
    n_invalid = sum(1 for a in asked if a.invalid is not None)
    log.info("asked generation %s: trials %d..%d (%d rejected by the strategy)", generation_label(g),
             wanted.start, wanted.stop - 1, n_invalid, extra={"generation": generation_label(g)})
    return asked


# The config a generation's plan carries and its sha256, made once per (study config, runs per shard) in a process:
# every generation of a study carries the same. Keyed by the config object (held, so that its id is not reused).
_PLAN_CONFIGS: dict[tuple[int, int], tuple[ExperimentConfig, ExperimentConfig, str]] = {}
_PLAN_CONFIGS_KEPT = 8


def plan_config(cfg: ExperimentConfig, sweep: OptunaSweep, runs_per_shard: int) -> tuple[ExperimentConfig, str]:
    """The config of a plan evaluating trials of ``sweep`` (its first objective ranks the runs; ``runs_per_shard``),
    as ``Plan`` validates it from its JSON document, and that document's canonical sha256 (no cache)."""
    doc = cfg.model_copy(update={
        "objective": primary_objective(sweep),
        "shards": cfg.shards.model_copy(update={"runs_per_shard": runs_per_shard}),
    }).model_dump(mode="json")
    return ExperimentConfig.model_validate(doc), sha256_hex(canonical_bytes(doc))


def _plan_config(manifest: StudyManifest, runs_per_shard: int) -> tuple[ExperimentConfig, str]:
    """``plan_config`` of the manifest's config, made once per config object and runs per shard."""
    cfg = manifest.config
    kept = _PLAN_CONFIGS.get((id(cfg), runs_per_shard))
    if kept is not None and kept[0] is cfg:
        return kept[1], kept[2]
    config, sha = plan_config(cfg, manifest.sweep, runs_per_shard)
    if len(_PLAN_CONFIGS) >= _PLAN_CONFIGS_KEPT:
        _PLAN_CONFIGS.clear()
    _PLAN_CONFIGS[(id(cfg), runs_per_shard)] = (cfg, config, sha)
    return config, sha


def trial_plan(manifest: StudyManifest, experiment_id: str, trials: list[AskedTrial], runs_per_shard: int,
               extra: Mapping[str, Any] | None = None) -> Plan:
    """An ordinary experiment plan evaluating ``trials`` (the valid ones) on every fold."""
    valid = [a for a in trials if a.invalid is None]
    cfg = manifest.config
    config, config_sha256 = _plan_config(manifest, runs_per_shard)
    # Fold-major like plan_experiment: a shard's runs share each fold's feature cache.
    runs = [PlannedRun(run_id=trial_run_id(a.number, f.id), fold=f.id, params=a.params)
            for f in manifest.folds for a in valid]
    shards, sharding = shard_runs([r.run_id for r in runs], runs_per_shard, cfg.shards.max_shards)
    bars = 0
    for f in manifest.folds:
        for seg in (f.in_sample, f.out_of_sample):
            if seg is not None:
                bars += (seg.stop - seg.warmup_start) * len(valid)
    span = max(((f.out_of_sample or f.in_sample).stop - f.in_sample.warmup_start) for f in manifest.folds)
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION,
        experiment_id=experiment_id,
        config=config,
        config_sha256=config_sha256,
        data=manifest.data,
        warmup_bars=manifest.warmup_bars,
        grid={"kind": "optuna", "study_id": manifest.study_id, **(extra or {}),
              "trials": [{"number": a.number, "params": a.params, "invalid": a.invalid} for a in trials]},
        folds=manifest.folds,
        runs=runs,
        split=f"rps-{sharding.runs_per_shard}",
        shards=shards,
        sharding=sharding,
        estimates={"bars_to_process": bars,
                   "peak_memory_bytes_per_shard": 150 * 2**20 + manifest.data.n_bars * 48 + span * 8 * 16},
        instruments=manifest.instruments,
    )


def generation_plan(manifest: StudyManifest, g: int, asked: list[AskedTrial], runs_per_shard: int) -> Plan:
    return trial_plan(manifest, manifest.keys.generation_experiment(g), asked, runs_per_shard,
                      {"generation": generation_label(g)})


def write_generation_plan(store: ArtifactStore, plan: Plan) -> None:
    """Store a generation's plan as one sealed object (``store/sealed.py``: one put instead of a payload and its
    marker; ``read_plan`` reads it through ``read_complete``). A plan an earlier version wrote with a marker is
    rewritten in that form (readers read a marked plan first)."""
    key = ExperimentKeys(plan.experiment_id).plan
    if store.exists(marker_key(key)):
        write_plan(store, plan)
    else:
        write_sealed(store, key, canonical_bytes(plan.model_dump(mode="json")), "plan")


class _TellOnly(optuna.samplers.BaseSampler):
    """The tell's sampler: it asks nothing, and its ``after_trial`` does nothing — as the configured samplers' do
    (built without a constraints function, none of them records anything after a trial); building one of those
    (seeding its random state) would cost more than the tell's own work per trial."""

    def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        raise AssertionError("the tell asks nothing")

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("the tell asks nothing")

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        raise AssertionError("the tell asks nothing")


@dataclass(frozen=True)
class Told:
    generation: int
    told: int  # trials told by this call (0 when the generation was told before)
    complete: int
    failed: int
    next_generation: int | None  # None: the study is done
    told_total: int = 0  # finished trials of the study
    best: tuple[int, float] | None = None  # (trial, first objective) of the best complete trial so far


def _generation(storage: optuna.storages.BaseStorage, study: optuna.Study,
                wanted: range) -> list[optuna.trial.FrozenTrial]:
    """The generation's trials (not the trials told before: a tell need not read them)."""
    return [storage.get_trial(storage.get_trial_id_from_study_id_trial_number(study._study_id, n)) for n in wanted]


def _best_so_far(manifest: StudyManifest, trials: Sequence[Trialish],
                 best: tuple[int, float] | None = None) -> tuple[int, float] | None:
    """(trial, first objective) of the best complete trial, the first of equals in trial order (``trials`` are);
    ``best``: the best of the trials before them, if any."""
    maximize = manifest.directions[0] == "maximize"
    complete = TrialState.COMPLETE
    for t in trials:
        if t.state is complete and t.values:
            v = float(t.values[0])
            if best is None or (v > best[1] if maximize else v < best[1]):
                best = (t.number, v)
    return best


# A study system attribute the ask sets (an ordinary journal operation, replayed by any Optuna storage): what the
# generation's tell needs of the trials told before it, so that it reads none of them (``_told_before``).
TOLD_BEFORE_ATTR = "trading_runtime_told_before"


def _told_before(manifest: StudyManifest, g: int, trials: Sequence[Trialish], finished_before: int = 0,
                 best_before: tuple[int, float] | None = None) -> dict[str, Any]:
    """Generation ``g``'s view of the trials told before it: how many (all finished: the ask refuses otherwise) and
    the best so far (``_best_so_far``); ``trials`` follow ``finished_before`` finished ones whose best is
    ``best_before``."""
    best = _best_so_far(manifest, trials, best_before)
    return {"generation": g, "trials": finished_before + len(trials),
            "best": None if best is None else [best[0], best[1]]}


def _told_before_previous(manifest: StudyManifest, storage: optuna.storages.BaseStorage, study: optuna.Study,
                          g: int) -> tuple[int, tuple[int, float] | None]:
    """(trials told before generation ``g − 1``, their best) from the attribute ``g − 1``'s ask set (its trials
    before it were all finished then, so they still are); (0, None) when there is none to use."""
    if g == 0:
        return 0, None
    carried, best = _carried_attribute(manifest, storage, study, g - 1)
    return (manifest.generation_trials(g - 1).start, best) if carried else (0, None)


def _told_before_of(manifest: StudyManifest, storage: optuna.storages.BaseStorage, study: optuna.Study,
                    g: int) -> tuple[bool, tuple[int, float] | None]:
    """(carried, the best so far before generation ``g``: None when no trial was complete) from the attribute its
    ask set; not carried when the study holds none for ``g`` (asked by an earlier version, or a generation told
    again after later ones were asked) or holds trials beyond the generation's."""
    if storage.get_n_trials(study._study_id) != manifest.generation_trials(g).stop:
        return False, None
    return _carried_attribute(manifest, storage, study, g)


def _carried_attribute(manifest: StudyManifest, storage: optuna.storages.BaseStorage, study: optuna.Study,
                       g: int) -> tuple[bool, tuple[int, float] | None]:
    """(the study holds generation ``g``'s view of the trials told before it, their best) (``_told_before``)."""
    carried = storage.get_study_system_attrs(study._study_id).get(TOLD_BEFORE_ATTR)
    if not (isinstance(carried, dict) and carried.get("generation") == g
            and carried.get("trials") == manifest.generation_trials(g).start):
        return False, None
    kept = carried.get("best")
    if kept is None:
        return True, None
    if isinstance(kept, list) and len(kept) == 2 and type(kept[0]) is int and type(kept[1]) in (int, float):
        return True, (kept[0], float(kept[1]))
    return False, None


def _carried(manifest: StudyManifest, before: tuple[int, float] | None, g: int,
             gen: Sequence[Trialish]) -> tuple[int | None, int, tuple[int, float] | None]:
    """(next generation, finished trials, best so far) from the best before generation ``g`` (``_told_before_of``)
    and the generation's own trials ``gen`` (every trial before them finished)."""
    told_before = manifest.generation_trials(g).start
    finished = told_before + sum(1 for t in gen if t.state.is_finished())
    return next_generation(manifest, gen, told_before), finished, _best_so_far(manifest, gen, before)


def tell_generation(store: ArtifactStore, manifest: StudyManifest, g: int,
                    load_records: Callable[[], Mapping[str, Mapping[str, Any]]], *, durable: bool = True) -> Told:
    """Tell generation ``g``'s trials in trial-number order from their runs' records (by run id).

    ``load_records`` (collect the generation's shards) is called only when a trial is still to tell.
    ``durable=False``: the told generation is stored only every few generations (the local all-in-one,
    which calls ``storage.flush_storage`` at its end; see ``storage.stored_storage``).
    """
    _check_generation(manifest, g)
    loaded: list[Mapping[str, Mapping[str, Any]]] = []

    def records() -> Mapping[str, Mapping[str, Any]]:
        if not loaded:
            loaded.append(load_records())
        return loaded[0]

    try:
        return _tell_step(store, manifest, g, records, durable, history=False)
    except HistoryNotReadError:  # the trials told before are needed after all: read them
        return _tell_step(store, manifest, g, records, durable, history=True)


def _tell_step(store: ArtifactStore, manifest: StudyManifest, g: int,
               load_records: Callable[[], Mapping[str, Mapping[str, Any]]], durable: bool, history: bool) -> Told:
    """tell_generation's step; ``history=False``: the storage may hold the trials told before unread
    (``HistoryNotReadError`` when one is needed)."""
    wanted = manifest.generation_trials(g)
    sweep = manifest.sweep
    told = complete = failed = 0
    with stored_storage(store, manifest.storage_location, step="told" if durable else "told-in-memory",
                        evaluations=False, history=history) as storage:
        study = load_study(storage, manifest, _TellOnly())
        if storage.get_n_trials(study._study_id) < wanted.stop:
            raise InputError(f"--generation: generation {generation_label(g)} of study '{manifest.study_id}' "
                             f"has not been asked (run 'optimize ask --generation {generation_label(g)}')")
        carried, before = _told_before_of(manifest, storage, study, g)
        if not carried and isinstance(storage, JournalMemoryStorage) and storage.held:
            raise HistoryNotReadError("the ask carried nothing for this tell")  # before any work
        records: Mapping[str, Mapping[str, Any]] = {}
        if any(not t.state.is_finished() for t in _generation(storage, study, wanted)):
            records = load_records()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for t in _generation(storage, study, wanted):
                if not t.state.is_finished():
                    missing = [trial_run_id(t.number, f.id) for f in manifest.folds
                               if trial_run_id(t.number, f.id) not in records]
                    if missing:
                        raise VerificationError(f"study '{manifest.study_id}': trial {t.number}: no result for "
                                                f"{', '.join(missing)}")
                    outcome = evaluate_trial(sweep.objectives, sweep.constraints,
                                             [(f.id, records[trial_run_id(t.number, f.id)])
                                              for f in manifest.folds], manifest.fold_instruments(),
                                             manifest.config.objective)
                    record_outcome(storage, study, t.number, outcome)
                    told += 1
        gen = _generation(storage, study, wanted)
        for t in gen:
            complete += t.state == TrialState.COMPLETE
            failed += t.state == TrialState.FAIL
        if carried:  # the trials told before are not read
            nxt, total, best = _carried(manifest, before, g, gen)
        else:
            final = storage.summaries(study._study_id) if isinstance(storage, JournalMemoryStorage) else \
                study.get_trials(deepcopy=False)
            nxt = next_generation(manifest, final)
            total = sum(1 for t in final if t.state.is_finished())
            best = _best_so_far(manifest, final)
    log.info("told generation %s: %d trials (%d complete, %d failed)", generation_label(g), told, complete, failed,
             extra={"generation": generation_label(g)})
    return Told(g, told, complete, failed, nxt, total, best)
