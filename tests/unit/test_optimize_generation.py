"""Generations without backtests: a cheap synthetic objective, a memory store, every sampler."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json

import optuna
import pytest

from tests.optimize_support import synthetic_config, synthetic_manifest, synthetic_records
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex
from trading_runtime.optimize import (
    ask_generation,
    generation,
    generation_plan,
    init_study,
    study_status,
    tell_generation,
    trial_run_id,
    write_generation_plan,
)
from trading_runtime.optimize.journal_storage import JournalMemoryStorage, TrialSummary
from trading_runtime.optimize.keys import generation_label
from trading_runtime.optimize.objective import evaluate_trial
from trading_runtime.optimize.storage import (
    CHECKPOINT_GENERATIONS,
    flush_storage,
    forget_cached_storages,
    stored_journal,
    stored_storage,
)
from trading_runtime.optimize.study import primary_objective, stored_study
from trading_runtime.planning import Plan, read_plan, write_plan
from trading_runtime.store import memory_store

_names = (f"optimize-gen-{i}" for i in itertools.count())


def fresh_store():
    return memory_store(next(_names))


def first_generation_asked():
    """(manifest, store, generation 0's asked trials): the synthetic study initialised, its first generation asked."""
    m = synthetic_manifest()
    store = fresh_store()
    init_study(store, m)
    return m, store, ask_generation(store, m, 0, lambda p: None)


def run_study(manifest, store=None, forget=False, stop_after=None):
    """Every generation: ask → synthetic records → tell. Returns the store."""
    store = store or fresh_store()
    init_study(store, manifest)
    status = study_status(store, manifest)
    g = None if status["done"] else int(status["next_generation"])
    ran = 0
    while g is not None and (stop_after is None or ran < stop_after):
        if forget:
            forget_cached_storages()
        asked = ask_generation(store, manifest, g, lambda p: None)
        if forget:
            forget_cached_storages()
        told = tell_generation(store, manifest, g, lambda asked=asked: synthetic_records(manifest, asked))
        g = told.next_generation
        ran += 1
    return store


def trials_of(store, manifest):
    with stored_study(store, manifest) as study:
        return [(t.number, t.state.name, dict(t.params), t.values) for t in study.get_trials(deepcopy=False)]


def test_a_study_runs_in_generations_and_is_reproducible():
    m = synthetic_manifest()
    assert m.n_generations == 3
    a, b = run_study(m), run_study(m, forget=True)
    ta, tb = trials_of(a, m), trials_of(b, m)
    assert [t[0] for t in ta] == list(range(12))
    assert all(t[1] == "COMPLETE" for t in ta)
    assert ta == tb  # in-process cached storage == storage re-read at every step
    assert study_status(a, m)["done"] is True


def test_another_seed_changes_the_trials_and_the_study_id():
    m1 = synthetic_manifest()
    m2 = synthetic_manifest(synthetic_config(sampler={"name": "random", "seed": 43}))
    assert m1.study_id != m2.study_id
    p1 = [t[2] for t in trials_of(run_study(m1), m1)]
    p2 = [t[2] for t in trials_of(run_study(m2), m2)]
    assert p1 != p2


@pytest.mark.parametrize("sampler,objectives", [
    ("tpe", None), ("random", None), ("qmc", None), ("cmaes", None),
    ("nsga2", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]),
    ("tpe", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "max_drawdown", "direction": "minimize"}]),
])
def test_every_sampler_is_deterministic_across_processes_steps(sampler, objectives):
    extra = {"sampler": {"name": sampler, "seed": 7}, "n_trials": 12, "batch_size": 4}
    if objectives:
        extra["objectives"] = objectives
    m = synthetic_manifest(synthetic_config(**extra))
    a = trials_of(run_study(m), m)
    b = trials_of(run_study(m, forget=True), m)
    assert a == b
    assert len({json.dumps(t[2], sort_keys=True) for t in a}) > 1  # it does explore


def test_resume_after_any_generation_gives_the_same_study():
    m = synthetic_manifest()
    whole = trials_of(run_study(m), m)
    store = fresh_store()
    run_study(m, store, stop_after=1)
    forget_cached_storages()
    run_study(m, store, forget=True)
    assert trials_of(store, m) == whole


def test_ask_is_idempotent_and_steps_out_of_order_are_refused():
    m = synthetic_manifest()
    store = fresh_store()
    init_study(store, m)
    with pytest.raises(InputError, match=r"generation 0000 is not told yet|it holds 0 trials"):
        ask_generation(store, m, 1, lambda p: None)
    first = ask_generation(store, m, 0, lambda p: None)
    blob = stored_journal(store, m.storage_location)
    forget_cached_storages()
    assert ask_generation(store, m, 0, lambda p: None) == first
    assert stored_journal(store, m.storage_location) == blob  # nothing asked twice
    with pytest.raises(InputError) as e:
        ask_generation(store, m, 1, lambda p: None)
    assert e.value.lines == (f"--generation: cannot ask generation 0001 of study '{m.study_id}': generation 0000 "
                             "is not told yet (run 'optimize tell --generation 0000')",)
    with pytest.raises(InputError, match=r"has generations 0000..0002 \(got 3\)"):
        ask_generation(store, m, 3, lambda p: None)
    with pytest.raises(InputError, match=r"generation 0001 .* has not been asked"):
        tell_generation(store, m, 1, dict)


def test_tell_is_idempotent_and_names_missing_results():
    m, store, asked = first_generation_asked()
    records = synthetic_records(m, asked)
    missing = trial_run_id(2, m.folds[0].id)
    partial = {k: v for k, v in records.items() if k != missing}
    with pytest.raises(VerificationError, match=f"trial 2: no result for {missing}"):
        tell_generation(store, m, 0, lambda: partial)
    told = tell_generation(store, m, 0, lambda: records)
    assert (told.told, told.complete, told.failed, told.next_generation) == (4, 4, 0, 1)
    blob = stored_journal(store, m.storage_location)

    def must_not_load():
        raise AssertionError("records loaded for a told generation")

    again = tell_generation(store, m, 0, must_not_load)
    assert (again.told, again.complete) == (0, 4)
    assert stored_journal(store, m.storage_location) == blob


def test_invalid_parameters_fail_at_ask_and_are_not_dispatched():
    m = synthetic_manifest()
    store = fresh_store()
    init_study(store, m)

    def check(p):
        return "x too large" if p["x"] > 2 else None

    asked = ask_generation(store, m, 0, check)
    bad = [a.number for a in asked if a.invalid]
    assert bad and all(a.invalid == "x too large" for a in asked if a.invalid)
    plan = generation_plan(m, 0, asked, 3)
    assert {r.run_id for r in plan.runs} == {trial_run_id(a.number, f.id) for a in asked if not a.invalid
                                             for f in m.folds}
    forget_cached_storages()
    assert ask_generation(store, m, 0, check) == asked  # re-asked from the storage: same reasons
    with stored_study(store, m) as study:
        for n in bad:
            t = study.trials[n]
            assert t.state.name == "FAIL"
            assert t.user_attrs["evaluation"]["fail_reason"] == "invalid parameters: x too large"


def test_generation_plan_numbers_runs_by_trial_and_splits_shards():
    m, _, asked = first_generation_asked()
    plan = generation_plan(m, 0, asked, 3)
    assert plan.experiment_id == f"{m.study_id}.g0000"
    assert [r.run_id for r in plan.runs] == [f"run-t{n:06d}-holdout" for n in range(4)]
    assert [s.shard_id for s in plan.shards] == ["shard-00000", "shard-00001"]
    assert [len(s.run_ids) for s in plan.shards] == [3, 1]
    assert plan.split == "rps-3"
    assert plan.config.objective.model_dump(mode="json") == {"metric": "sharpe", "direction": "maximize",
                                        "constraints": {"min_trades": None, "max_drawdown": None}}
    assert plan.config.shards.runs_per_shard == 3
    assert plan.grid["generation"] == "0000"
    # stepped floats are on their decimal grid
    for a in asked:
        assert round(a.params["x"], 1) == a.params["x"]
    assert generation_label(12) == "0012"


def test_a_generation_plans_config_is_made_once_per_config_and_shard_size_and_equals_a_fresh_one():
    m, _, asked = first_generation_asked()

    def fresh(manifest, runs_per_shard):
        """The plan's config as a plan validates it from its document, and that document's sha256 (no cache)."""
        cfg = manifest.config
        doc = cfg.model_copy(update={"objective": primary_objective(manifest.sweep),
                                     "shards": cfg.shards.model_copy(update={"runs_per_shard": runs_per_shard})}
                             ).model_dump(mode="json")
        return doc, sha256_hex(canonical_bytes(doc))

    other_seed = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 7}))
    for manifest, rps in [(m, 3), (m, 1), (m, 3), (other_seed, 3),
                          (m.model_copy(update={"config": m.config.model_copy(update={"description": "other"})}), 3)]:
        plan = generation_plan(manifest, 1, asked, rps)
        doc, sha = fresh(manifest, rps)
        assert plan.config.model_dump(mode="json") == doc
        assert plan.config_sha256 == sha
        again = generation_plan(manifest, 1, asked, rps)
        assert again.config is plan.config  # made once
        # the stored plan reads back equal (the plan validated from its own document)
        assert Plan.model_validate(json.loads(canonical_bytes(plan.model_dump(mode="json")))) == plan


def test_sqlite_storage_gives_the_same_trials_as_the_journal():
    mj = synthetic_manifest()
    ms = synthetic_manifest(storage_format="sqlite")
    assert mj.study_id == ms.study_id
    tj = trials_of(run_study(mj), mj)
    ts = trials_of(run_study(ms), ms)
    assert tj == ts


def test_the_stored_journal_is_an_ordinary_optuna_journal_file(tmp_path):
    m = synthetic_manifest()
    store = run_study(m)
    path = tmp_path / "journal.log"
    path.write_bytes(stored_journal(store, m.storage_location))
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.load_study(study_name=m.study_id, storage=storage)
    assert [(t.number, t.values) for t in study.trials] == [(t[0], t[3]) for t in trials_of(store, m)]


def test_a_failed_step_leaves_the_stored_storage_unchanged():
    m = synthetic_manifest()
    store = fresh_store()
    init_study(store, m)
    before = stored_journal(store, m.storage_location)
    with pytest.raises(RuntimeError), stored_storage(store, m.storage_location) as storage:
        optuna.load_study(study_name=m.study_id, storage=storage).ask()
        raise RuntimeError("crash in the middle of a step")
    assert stored_journal(store, m.storage_location) == before
    assert ask_generation(store, m, 0, lambda p: None)[0].number == 0


@pytest.mark.parametrize("sampler,objectives", [
    ("tpe", None), ("qmc", None), ("cmaes", None),
    ("nsga2", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]),
])
def test_the_folded_journal_replays_to_exactly_the_state_it_was_folded_from(sampler, objectives):
    extra = {"sampler": {"name": sampler, "seed": 3}, "n_trials": 12, "batch_size": 4}
    if objectives:
        extra["objectives"] = objectives
    m = synthetic_manifest(synthetic_config(**extra))
    store = run_study(m)  # the cache keeps the storage built from the unfolded operations

    def state():
        with stored_study(store, m) as study:
            system = study._storage.get_study_system_attrs(study._study_id)
            return study.get_trials(deepcopy=True), study.user_attrs, system

    live = state()
    forget_cached_storages()
    replayed = state()  # from the stored, folded journal
    assert [t.__dict__ for t in live[0]] == [t.__dict__ for t in replayed[0]]
    assert live[1:] == replayed[1:]
    lines = stored_journal(store, m.storage_location).splitlines()
    assert sum(line.startswith(b'{"op_code":4,') for line in lines) == 12
    assert not any(line.startswith((b'{"op_code":5,', b'{"op_code":6,')) for line in lines)


# --------------------------------------------------------------------------------------------- in-memory steps

def run_in_memory(manifest, store, stop_after=None, flush=True):
    """The all-in-one's steps: asks and tells kept in memory, told objects every CHECKPOINT_GENERATIONS, flushed
    at the end (unless ``flush`` is False: a kill)."""
    init_study(store, manifest)
    status = study_status(store, manifest)
    g = None if status["done"] else int(status["next_generation"])
    ran = 0
    while g is not None and (stop_after is None or ran < stop_after):
        asked = ask_generation(store, manifest, g, lambda p: None, durable=False)
        told = tell_generation(store, manifest, g, lambda asked=asked: synthetic_records(manifest, asked),
                               durable=False)
        g = told.next_generation
        ran += 1
    if flush:
        flush_storage(store, manifest.storage_location)
    return store


def journal_objects(store, manifest):
    folder = manifest.keys.storage("journal").rsplit("/", 1)[0] + "/journal/"
    return [k[len(folder):] for k in store.list_keys(folder) if not k.endswith(".SUCCESS")]


@pytest.mark.parametrize("sampler", ["tpe", "qmc", "cmaes"])
def test_in_memory_steps_store_told_objects_at_checkpoints_and_give_the_durable_steps_study(sampler):
    m = synthetic_manifest(synthetic_config(sampler={"name": sampler, "seed": 5}, n_trials=20, batch_size=2))
    assert m.n_generations == 10 and CHECKPOINT_GENERATIONS == 8
    durable = trials_of(run_study(m), m)
    store = run_in_memory(m, fresh_store(), flush=False)
    assert journal_objects(store, m) == ["g0007.told.v2.log"]  # generations 0-7; 8 and 9 only in memory
    assert study_status(store, m)["next_generation"] == "0008"  # other steps read the store (and keep it open)
    assert study_status(store, m)["next_generation"] == "0008"
    flush_storage(store, m.storage_location)
    assert journal_objects(store, m) == ["g0007.told.v2.log", "g0009.told.v2.log"]  # + generations 8-9
    forget_cached_storages()
    assert trials_of(store, m) == durable
    assert study_status(store, m)["done"] is True


@pytest.mark.parametrize("killed_after", [3, 8, 9])
def test_a_kill_loses_the_generations_held_in_memory_and_the_next_run_gives_them_back(killed_after):
    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 5}, n_trials=20, batch_size=2))
    whole = trials_of(run_study(m), m)
    store = fresh_store()
    run_in_memory(m, store, stop_after=killed_after, flush=False)
    forget_cached_storages()  # the process is gone: only the store is left
    assert study_status(store, m)["told"] == 2 * (killed_after // 8 * 8)
    run_in_memory(m, store)
    forget_cached_storages()
    assert trials_of(store, m) == whole


def test_durable_and_in_memory_steps_mix_on_one_store():
    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 5}, n_trials=20, batch_size=2))
    whole = trials_of(run_study(m), m)
    store = fresh_store()
    run_study(m, store, stop_after=3)  # told objects of generations 0, 1, 2 (blocks 0-1 and 2)
    asked = ask_generation(store, m, 3, lambda p: None)  # an asked object, then the all-in-one takes over
    run_in_memory(m, store, stop_after=6)
    assert ask_generation(store, m, 9, lambda p: None)  # a durable step after a flush: from the store
    forget_cached_storages()
    run_study(m, store)
    assert trials_of(store, m) == whole
    assert [t[2] for t in whole[6:8]] == [a.params for a in asked]


def test_a_failing_in_memory_step_stores_the_generations_told_before_it():
    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 5}, n_trials=20, batch_size=2))
    whole = trials_of(run_study(m), m)
    store = fresh_store()
    run_in_memory(m, store, stop_after=3, flush=False)
    assert journal_objects(store, m) == []
    asked = ask_generation(store, m, 3, lambda p: None, durable=False)
    records = synthetic_records(m, asked)
    del records[trial_run_id(asked[1].number, m.folds[0].id)]
    with pytest.raises(VerificationError, match="no result for"):
        tell_generation(store, m, 3, lambda: records, durable=False)
    assert journal_objects(store, m) == ["g0001.told.v2.log", "g0002.told.v2.log"]  # generations 0-1 and 2
    forget_cached_storages()
    assert study_status(store, m)["told"] == 6
    run_in_memory(m, store)
    forget_cached_storages()
    assert trials_of(store, m) == whole


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc", "cmaes", "nsga2"])
def test_the_tell_builds_no_seeded_sampler_and_the_study_is_the_same(sampler, monkeypatch):
    """A tell asks nothing: its study gets a sampler that does nothing after a trial, as the configured ones do
    (seeding one per tell costs more than the tell's own work); the trials are those of a study whose tells did."""
    objectives = [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]
    m = synthetic_manifest(synthetic_config(sampler={"name": sampler, "seed": 4}, n_trials=12, batch_size=4,
                                            **({"objectives": objectives} if sampler == "nsga2" else {})))
    built = []
    real = generation.build_sampler
    monkeypatch.setattr(generation, "build_sampler", lambda *a: built.append(a[1]) or real(*a))
    store = run_study(m, forget=True)
    assert built == [f"generation/{generation_label(g)}" for g in range(3)]  # one per ask, none per tell
    reference = fresh_store()
    init_study(reference, m)
    for g in range(m.n_generations):  # the tells' studies get the generation's configured sampler
        forget_cached_storages()
        asked = ask_generation(reference, m, g, lambda p: None)
        forget_cached_storages()
        with stored_storage(reference, m.storage_location, step="told", evaluations=False) as storage:
            study = optuna.load_study(study_name=m.study_id, storage=storage,
                                      sampler=real(m.sweep.sampler, f"generation/{generation_label(g)}", 4))
            records = synthetic_records(m, asked)
            for a in asked:
                outcome = evaluate_trial(m.sweep.objectives, m.sweep.constraints,
                                         [(f.id, records[trial_run_id(a.number, f.id)]) for f in m.folds], None,
                                         m.config.objective)
                generation.record_outcome(storage, study, a.number, outcome)
    forget_cached_storages()
    assert trials_of(store, m) == trials_of(reference, m)
    with stored_study(store, m) as a, stored_study(reference, m) as b:
        assert [(t.system_attrs, t.user_attrs) for t in a.get_trials()] == \
            [(t.system_attrs, t.user_attrs) for t in b.get_trials()]


@pytest.mark.parametrize("direction,want", [("maximize", (1, 3.0)), ("minimize", (4, -1.0))])
def test_the_best_so_far_is_the_first_complete_trial_with_the_best_first_objective(direction, want):
    m = synthetic_manifest(synthetic_config(objectives=[{"metric": "sharpe", "direction": direction}]))
    state = optuna.trial.TrialState
    rows = [TrialSummary(0, state.COMPLETE, [2.0]), TrialSummary(1, state.COMPLETE, [3.0]),
            TrialSummary(2, state.FAIL, None), TrialSummary(3, state.COMPLETE, [3.0]),  # a tie: the first stays
            TrialSummary(4, state.COMPLETE, [-1.0]), TrialSummary(5, state.COMPLETE, [-1.0]),
            TrialSummary(6, state.PRUNED, [9.0]), TrialSummary(7, state.RUNNING, None)]
    assert generation._best_so_far(m, rows) == want
    assert generation._best_so_far(m, rows[2:3] + rows[6:]) is None


def test_a_generation_plan_is_one_sealed_object_and_an_earlier_versions_marked_plan_stays_marked():
    m, store, asked = first_generation_asked()
    plan = generation_plan(m, 0, asked, 3)
    root = f"experiments/{plan.experiment_id}/"
    write_generation_plan(store, plan)
    assert store.list_keys(root) == [root + "plan.v2.json"]
    raw = store.get_bytes(root + "plan.v2.json")
    assert raw.startswith(canonical_bytes(plan.model_dump(mode="json")))
    assert raw.splitlines()[-1].startswith(b"#trading-runtime plan sha256=")
    assert read_plan(store, plan.experiment_id) == plan
    # a generation an earlier version planned (payload + marker), re-asked with another shard size
    other = fresh_store()
    init_study(other, m)
    write_plan(other, generation_plan(m, 0, asked, 1))
    write_generation_plan(other, plan)
    assert other.list_keys(root) == [root + "plan.json", root + "plan.json.SUCCESS"]
    assert read_plan(other, plan.experiment_id) == plan


def _told_steps(m, store, tells=contextlib.nullcontext):
    """Every generation asked and told by steps that read the store (as pods do), each tell within ``tells()``;
    the tells' results."""
    init_study(store, m)
    out = []
    for g in range(m.n_generations):
        forget_cached_storages()
        asked = ask_generation(store, m, g, lambda p: None)
        forget_cached_storages()
        with tells():
            out.append(tell_generation(store, m, g, lambda asked=asked: synthetic_records(m, asked)))
    forget_cached_storages()
    return out


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_tell_reads_none_of_the_trials_told_before_and_gives_the_same_counts_and_best(direction, monkeypatch):
    """The ask carries what its tell needs of the trials told before (their number and the best so far) in a study
    attribute; a tell that reads the store then reads none of those trials (neither made nor their states read), and
    gives what reading them gives. A study asked without the attribute (an earlier version) is told by reading them."""
    m = synthetic_manifest(synthetic_config(objectives=[{"metric": "sharpe", "direction": direction}], n_trials=18,
                                            batch_size=4))
    plain = _told_steps(m, fresh_store())
    with monkeypatch.context() as patched:
        patched.setattr(generation, "TOLD_BEFORE_ATTR", "another_attribute")  # the ask sets no attribute of its own
        earlier = _told_steps(m, fresh_store())

    def unread(*args: object) -> None:
        raise AssertionError("a tell read the trials told before")

    @contextlib.contextmanager
    def reading_nothing_told():
        with monkeypatch.context() as patched:
            patched.setattr(JournalMemoryStorage, "summaries", unread)
            patched.setattr(JournalMemoryStorage, "_read_deferred", unread)
            yield

    store = fresh_store()
    carried = _told_steps(m, store, reading_nothing_told)
    assert carried == plain == earlier
    trials = [TrialSummary(n, optuna.trial.TrialState[state], values) for n, state, _, values in trials_of(store, m)]
    for told in carried:
        stop = m.generation_trials(told.generation).stop
        assert (told.told_total, told.best) == (stop, generation._best_so_far(m, trials[:stop]))
        assert told.next_generation == (None if stop == m.n_trials else told.generation + 1)
    assert [t.best for t in carried][-1] is not None and len({t.best for t in carried}) > 1
    # told again after later generations were asked: the attribute is a later generation's, the trials are read
    assert tell_generation(store, m, 0, dict) == dataclasses.replace(carried[-1], generation=0, told=0,
                                                                     complete=4, failed=0)


def test_a_tell_reads_only_the_told_objects_its_fold_rewrites(monkeypatch):
    """A tell that reads the store holds the trials of the told objects it does not rewrite without reading those
    objects: of the told objects it reads only the blocks its own told object merges (those of T's trailing one
    bits, T = the generations told before); the study is the one reading everything gives."""
    m = synthetic_manifest(synthetic_config(n_trials=26, batch_size=2))
    whole = trials_of(run_study(m), m)
    folder = m.keys.storage("journal").rsplit("/", 1)[0] + "/journal/"
    store = fresh_store()
    read: list[str] = []
    real = type(store).get_bytes
    init_study(store, m)
    reads = []
    for g in range(m.n_generations):
        forget_cached_storages()
        asked = ask_generation(store, m, g, lambda p: None)
        forget_cached_storages()
        read.clear()
        with monkeypatch.context() as patched:
            patched.setattr(type(store), "get_bytes", lambda self, key: read.append(key) or real(self, key))
            tell_generation(store, m, g, lambda asked=asked: synthetic_records(m, asked))
        reads.append([k.removeprefix(folder) for k in read if k.endswith(".told.v2.log")])  # (not the probes)
    assert reads[7] == ["g0003.told.v2.log", "g0005.told.v2.log", "g0006.told.v2.log"]  # 7 = 0b111: all merged
    assert reads[8] == []  # 8 = 0b1000: generation 8's told object is its own; g0007's block is held
    assert reads[11] == ["g0009.told.v2.log", "g0010.told.v2.log"]  # 11 = 0b1011: g0007's block held

    def merged(told: int) -> list[str]:
        out, done = [], 0
        for bit in reversed(range(told.bit_length())):
            if told >> bit & 1:
                done += 1 << bit
                if 1 << bit < (told + 1) & -(told + 1):
                    out.append(f"g{generation_label(done - 1)}.told.v2.log")
        return out

    assert reads == [merged(g) for g in range(m.n_generations)]
    forget_cached_storages()
    assert trials_of(store, m) == whole
    lines = stored_journal(store, m.storage_location).splitlines()  # every generation folded (one line per trial)
    assert sum(line.startswith(b'{"op_code":4,') for line in lines) == 26
    assert not any(line.startswith((b'{"op_code":5,', b'{"op_code":6,')) for line in lines)


def test_a_tell_folds_its_generation_without_parsing_the_asked_lines_again(monkeypatch):
    """The asked object's operations, parsed once when a tell reads them, are what its fold reads (no line parsed a
    second time); the stored study is the one of the in-process steps."""
    from trading_runtime.optimize import journal

    m = synthetic_manifest(synthetic_config(n_trials=12, batch_size=4))
    store = fresh_store()
    init_study(store, m)

    class NoParsing:
        @staticmethod
        def loads(text: object) -> object:
            raise AssertionError("the fold parsed a line again")

    for g in range(m.n_generations):
        forget_cached_storages()
        asked = ask_generation(store, m, g, lambda p: None)
        forget_cached_storages()
        with monkeypatch.context() as patched:
            patched.setattr(journal, "json", NoParsing)
            tell_generation(store, m, g, lambda asked=asked: synthetic_records(m, asked))
    forget_cached_storages()
    assert trials_of(store, m) == trials_of(run_study(m), m)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_an_asks_view_of_the_trials_told_before_equals_reading_them_all(direction, monkeypatch):
    """An ask reads the trials from the previous generation on (the attribute that generation's ask set covers the
    ones before); what it records equals what reading every trial gives, with failed trials and ties among them;
    a study asked without the attribute (an earlier version) is read whole, and gives the same."""
    m = synthetic_manifest(synthetic_config(objectives=[{"metric": "sharpe", "direction": direction}], n_trials=23,
                                            batch_size=3), check=lambda p: "y too high" if p["y"] > 6 else None)

    real = generation._told_before

    def run(store):
        init_study(store, m)
        views = []
        for g in range(m.n_generations):
            asked = ask_generation(store, m, g, lambda p: "y too high" if p["y"] > 6 else None)
            with stored_storage(store, m.storage_location, write=False) as storage:
                study_id = storage.get_study_id_from_name(m.study_id)
                view = storage.get_study_system_attrs(study_id)[generation.TOLD_BEFORE_ATTR]
                trials = storage.get_all_trials(study_id, deepcopy=False)
            assert view == real(m, g, trials[:m.generation_trials(g).start])  # every trial read
            views.append(view)
            records = synthetic_records(m, asked)
            for key in list(records)[::4]:  # an undefined objective: failed trials among the complete ones
                records[key]["in_sample"]["sharpe"] = None
            tell_generation(store, m, g, lambda records=records: records)
        return views, trials_of(store, m)

    reads = []

    def recording(manifest, g, trials, finished_before=0, best_before=None):
        reads.append(len(trials))
        return real(manifest, g, trials, finished_before, best_before)

    with monkeypatch.context() as patched:
        patched.setattr(generation, "_told_before", recording)
        views, trials = run(fresh_store())
    assert reads == [0] + [3] * (m.n_generations - 1)  # the previous generation's trials only
    assert any(state == "FAIL" for _, state, _, _ in trials) and views[-1]["best"] is not None
    with monkeypatch.context() as patched:
        patched.setattr(generation, "_told_before_previous", lambda *args: (0, None))  # every trial read
        assert run(fresh_store()) == (views, trials)
