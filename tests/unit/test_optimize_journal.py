"""The study's journal read into the step's storage (optimize/journal.py): what each way of reading gives."""

from __future__ import annotations

import json

import optuna
import pytest

from tests.optimize_support import synthetic_config, synthetic_manifest
from tests.unit.test_optimize_generation import fresh_store, run_study, trials_of
from trading_runtime.errors import InputError
from trading_runtime.optimize import ask_generation
from trading_runtime.optimize.journal import BytesJournalBackend
from trading_runtime.optimize.journal_storage import JournalMemoryStorage, TrialSummary
from trading_runtime.optimize.storage import forget_cached_storages, stored_journal
from trading_runtime.optimize.study import stored_study
from trading_runtime.store import CorruptArtifactError, write_complete


def study_journal(sampler: str = "tpe", objectives: list[dict[str, str]] | None = None) -> tuple[object, bytes]:
    extra: dict[str, object] = {"sampler": {"name": sampler, "seed": 3}, "n_trials": 12, "batch_size": 4}
    if objectives:
        extra["objectives"] = objectives
    m = synthetic_manifest(synthetic_config(**extra))
    store = run_study(m)
    return m, stored_journal(store, m.storage_location)


def everything(storage: optuna.storages.BaseStorage) -> tuple[object, ...]:
    (study,) = storage.get_all_studies()
    trials = storage.get_all_trials(study._study_id)
    return [t.__dict__ for t in trials], study.user_attrs, study.system_attrs


def told_lines(journal: bytes) -> tuple[int, int]:
    """The range of the folded trial lines (every line after the study's own)."""
    lines = journal.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4,'))
    return first, len(lines)


@pytest.mark.parametrize("sampler,objectives", [
    ("tpe", None), ("qmc", None), ("cmaes", None),
    ("nsga2", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]),
])
def test_without_evaluations_only_the_complete_trials_user_attributes_are_left_unread(sampler, objectives):
    _, journal = study_journal(sampler, objectives)
    full = JournalMemoryStorage(BytesJournalBackend(journal))
    light = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False)
    assert full.evaluations and not light.evaluations
    want, got = everything(full), everything(light)
    assert got[1:] == want[1:]
    assert all(g["_user_attrs"] == {} for g in got[0] if g["state"] == optuna.trial.TrialState.COMPLETE)
    assert [{**g, "_user_attrs": None} for g in got[0]] == [{**w, "_user_attrs": None} for w in want[0]]
    light.read_evaluations()
    assert light.evaluations and everything(light) == want


def test_deferred_told_trials_give_their_states_and_values_unread_and_everything_when_asked_for():
    _, journal = study_journal()
    full = JournalMemoryStorage(BytesJournalBackend(journal))
    deferred = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False, deferred=told_lines(journal))
    (study,) = full.get_all_studies()
    sid = study._study_id
    assert deferred.get_n_trials(sid) == 12
    assert deferred.summaries(sid) == [TrialSummary(t.number, t.state, t.values) for t in full.get_all_trials(sid)]
    assert not deferred.evaluations
    # one trial asked for: every told trial is read, with the best trial as an in-order read gives it
    fifth = deferred.get_trial(deferred.get_trial_id_from_study_id_trial_number(sid, 5))
    assert {**fifth.__dict__, "_user_attrs": None} == {**full.get_trial(5).__dict__, "_user_attrs": None}
    assert deferred.get_best_trial(sid).number == full.get_best_trial(sid).number
    deferred.read_evaluations()
    assert everything(deferred) == everything(full)


def test_a_line_not_in_the_folded_form_is_read_all_the_same():
    """Told objects of an earlier version (user_attrs before system_attrs) and unfolded operations."""
    _, journal = study_journal()
    older = []
    for line in journal.splitlines(keepends=True):
        op = json.loads(line)
        if op["op_code"] == 4:
            order = ["op_code", "worker_id", "study_id", "datetime_start", "params", "distributions", "user_attrs",
                     "system_attrs", "intermediate_values", "state", "values", "datetime_complete"]
            op = {k: op[k] for k in order if k in op}
        older.append(json.dumps(op, separators=(",", ":")).encode() + b"\n")
    assert older != journal.splitlines(keepends=True)
    old = b"".join(older)
    want = everything(JournalMemoryStorage(BytesJournalBackend(journal)))
    for evaluations in (True, False):
        storage = JournalMemoryStorage(BytesJournalBackend(old), evaluations=evaluations, deferred=told_lines(old))
        (study,) = storage.get_all_studies()
        assert [s.values for s in storage.summaries(study._study_id)] == [t["_values"] for t in want[0]]
        assert everything(storage) == want


def test_an_earlier_versions_whole_journal_is_read_and_the_study_goes_on_identically():
    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 5}, n_trials=20, batch_size=2))
    whole = trials_of(run_study(m), m)
    done = fresh_store()
    run_study(m, done, stop_after=3)
    old = fresh_store()  # the journal as one object (the base), as an earlier version wrote it
    write_complete(old, m.keys.manifest, done.get_bytes(m.keys.manifest))
    write_complete(old, m.storage_location.key, stored_journal(done, m.storage_location))
    forget_cached_storages()
    assert trials_of(old, m) == whole[:6]
    run_study(m, old, forget=True)
    forget_cached_storages()
    assert trials_of(old, m) == whole


def test_a_journal_line_that_cannot_be_read_is_one_line_of_input_error():
    m = synthetic_manifest()
    done = run_study(m, stop_after=1)
    loc = m.storage_location
    store = fresh_store()  # an earlier version's whole journal, with an operation it does not know
    write_complete(store, m.keys.manifest, done.get_bytes(m.keys.manifest))
    write_complete(store, loc.key, stored_journal(done, loc) + b'{"op_code":42,"worker_id":"x"}\n')
    forget_cached_storages()
    with pytest.raises(InputError) as e:
        ask_generation(store, m, 0, lambda p: None)
    (line,) = e.value.lines
    assert line.startswith(f"{store.uri}: {loc.key}: the study's journal cannot be read (ValueError: journal: "
                           "operation 42 is not supported here)")
    with pytest.raises(InputError), stored_study(store, m):
        pass


def test_an_earlier_versions_objects_with_markers_are_read_and_the_study_goes_on_identically():
    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 5}, n_trials=20, batch_size=2))
    whole = trials_of(run_study(m), m)
    store = fresh_store()
    run_study(m, store, stop_after=3)
    ask_generation(store, m, 3, lambda p: None)  # an asked object too
    folder = m.keys.root + "/storage/"
    sealed = [k for k in store.list_keys(folder) if k.endswith(".v2.log")]
    assert sorted(k[len(folder):] for k in sealed) == sorted([
        "journal.v2.log", *(f"journal/g000{g}.asked.v2.log" for g in range(4)),
        *(f"journal/g000{g}.told.v2.log" for g in range(3))])
    for key in sealed:  # as an earlier version wrote them: the lines, then a marker
        lines = store.get_bytes(key).splitlines(keepends=True)
        assert lines[-1].startswith(b"#trading-runtime journal sha256=")
        write_complete(store, key.removesuffix(".v2.log") + ".log", b"".join(lines[:-1]))
        store.delete(key)
    forget_cached_storages()
    assert trials_of(store, m)[:6] == whole[:6]
    run_study(m, store, forget=True)
    forget_cached_storages()
    assert trials_of(store, m) == whole


def test_a_sealed_object_whose_lines_do_not_match_its_seal_is_corrupt():
    m = synthetic_manifest()
    store = run_study(m)
    key = m.keys.root + "/storage/journal/g0001.told.v2.log"
    raw = store.get_bytes(key)
    store.put_bytes(key, raw.replace(b'"state":1', b'"state":3', 1))
    forget_cached_storages()
    with pytest.raises(CorruptArtifactError) as e, stored_study(store, m):
        pass
    assert str(e.value).startswith(f"store: artifact '{key}' in {store.uri} is corrupt: its last line is not the "
                                   "seal of its lines (sha256 ")



def test_what_the_storage_writes_is_a_journal_optuna_replays_to_the_same_state(local_zone):
    """Operations beyond the steps' (a template trial, an enqueued trial, intermediate values, pruning, study
    attributes): the live state, Optuna's JournalStorage replay of the lines written, and a read of them agree,
    in a zone without offset and in one with."""
    live = JournalMemoryStorage(BytesJournalBackend())
    study = optuna.create_study(storage=live, study_name="s", directions=["maximize", "minimize"])
    study.set_user_attr("note", {"a": (1, 2)})  # a tuple: the journal gives a list back
    live.set_study_system_attr(study._study_id, "k", 3)
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    study.add_trial(optuna.trial.create_trial(params={"x": 0.25}, distributions={"x": dist}, values=[1.0, 2.0],
                                              user_attrs={"u": 1}, system_attrs={"s": 2},
                                              intermediate_values={3: 0.5}))
    study.enqueue_trial({"x": 0.75})
    trial = study.ask({"x": dist})
    trial.set_user_attr("evaluation", {"n": 1})
    study.tell(trial, [0.5, 0.5])
    pruned = optuna.create_study(storage=live, study_name="p")
    t = pruned.ask({"x": dist})
    t.report(0.3, step=2)
    pruned.tell(t, state=optuna.trial.TrialState.PRUNED)
    pruned.ask({"x": dist})  # still running

    journal = live.backend.dump()
    replayed = optuna.storages.JournalStorage(BytesJournalBackend(journal))
    reread = JournalMemoryStorage(BytesJournalBackend(journal))

    def state(storage: optuna.storages.BaseStorage) -> list[object]:
        out: list[object] = []
        for s in sorted(storage.get_all_studies(), key=lambda s: s.study_name):
            out.append((s.study_name, s.directions, s.user_attrs, s.system_attrs))
            out.extend(t.__dict__ for t in storage.get_all_trials(s._study_id))
        return out

    assert state(live) == state(replayed) == state(reread)


def test_written_operations_are_held_as_the_journal_gives_them_back_and_fold_to_the_same_lines():
    """A step's own operations are not parsed back when they are small and of JSON's types (journal_storage._write):
    the state and the fold (from the operations kept) are what reading the lines gives."""
    import numpy as np

    storage = JournalMemoryStorage(BytesJournalBackend())
    sid = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    study = optuna.load_study(study_name="s", storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
    dists = {"a": optuna.distributions.IntDistribution(1, 9), "b": optuna.distributions.FloatDistribution(0, 1)}
    for i in range(4):
        trial = study.ask(dists)
        tid = trial._trial_id
        # not JSON's own types: a tuple, a numpy scalar, an enum, an int key (each read back as the journal gives it)
        storage.set_trial_system_attr(tid, "tuple", (1, "x"))
        storage.set_trial_system_attr(tid, "numpy", np.float64(0.5))
        storage.set_trial_system_attr(tid, "enum", optuna.trial.TrialState.COMPLETE)
        storage.set_trial_user_attr(tid, "keys", {1: [1.5, None, True]})
        storage.set_trial_user_attr(tid, "evaluation", {"m": [float(k) for k in range(50)], "s": "x" * 40})
        storage.set_trial_intermediate_value(tid, 3, 0.25)
        study.tell(trial, [float(np.float64(i))] if i != 2 else None,
                   state=optuna.trial.TrialState.FAIL if i == 2 else None)
    lines = storage.backend.lines()
    parsed = storage.backend._parsed
    assert sorted(parsed) == list(range(len(lines)))  # every line this storage wrote
    assert all(parsed[i] == json.loads(lines[i]) for i in parsed)
    held = [op["system_attr"] for op in parsed.values() if op["op_code"] == 9]
    assert [type(v) for attrs in held for v in attrs.values()] == [list, float, int] * 4
    assert storage.get_trial(0).system_attrs == {"tuple": [1, "x"], "numpy": 0.5, "enum": 1}
    assert storage.get_trial(0).user_attrs["keys"] == {"1": [1.5, None, True]}
    assert everything(storage) == everything(JournalMemoryStorage(BytesJournalBackend(storage.backend.dump())))
    from trading_runtime.optimize.journal import compact_journal

    assert compact_journal(lines, 0, parsed) == compact_journal(lines, 0) is not None
    assert storage.backend.compact(0)
    assert storage.backend._parsed == {}
    assert everything(storage) == everything(JournalMemoryStorage(BytesJournalBackend(storage.backend.dump())))
    assert storage.summaries(sid) == [TrialSummary(t.number, t.state, t.values) for t in storage.get_all_trials(sid)]


def test_summaries_stay_right_as_trials_are_asked_and_told_between_calls():
    """summaries keeps the leading finished trials' summaries: later trials, running then told, are read again."""
    _, journal = study_journal()
    storage = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False, deferred=told_lines(journal))
    (study,) = storage.get_all_studies()
    sid = study._study_id
    opened = optuna.load_study(study_name=study.study_name, storage=storage,
                               sampler=optuna.samplers.RandomSampler(seed=2))
    first = storage.summaries(sid)
    asked = [opened.ask() for _ in range(2)]
    for t in asked:
        t.suggest_float("x", 0, 1)
    running = storage.summaries(sid)
    assert running[:12] == first and [s.state for s in running[12:]] == [optuna.trial.TrialState.RUNNING] * 2
    opened.tell(asked[1], 1.0)
    assert [s.state for s in storage.summaries(sid)[12:]] == [optuna.trial.TrialState.RUNNING,
                                                              optuna.trial.TrialState.COMPLETE]
    opened.tell(asked[0], 2.0)
    want = [TrialSummary(t.number, t.state, t.values) for t in storage.get_all_trials(sid)]
    assert storage.summaries(sid) == want and want[12].values == [2.0]


@pytest.mark.parametrize("sampler,objectives", [
    ("tpe", None), ("qmc", None), ("cmaes", None),
    ("nsga2", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]),
])
@pytest.mark.parametrize("evaluations", [True, False])
def test_told_trials_are_read_in_one_go_as_reading_each_line_gives_them(sampler, objectives, evaluations, monkeypatch):
    """The told generations' folded lines are decoded together (one JSON array), no line alone, into the state that
    reading line by line gives: every sampler's trials (their system attributes), failed ones, evaluations or not."""
    _, journal = study_journal(sampler, objectives)
    by_line = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=evaluations)
    want = everything(by_line)

    def alone(*args: object) -> bool:
        raise AssertionError("a told line was read alone")

    monkeypatch.setattr(JournalMemoryStorage, "_read_folded", alone)
    together = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=evaluations,
                                    deferred=told_lines(journal))
    together.read_told()
    assert everything(together) == want
    assert together.evaluations == by_line.evaluations
    together.read_evaluations()
    by_line.read_evaluations()
    assert everything(together) == everything(by_line)


def test_told_trials_are_made_with_the_garbage_collector_paused(monkeypatch):
    """No collection runs while the told trials are made (each would traverse every object of the process), even
    with the collector set off by every allocation; it runs again afterwards."""
    import gc

    _, journal = study_journal()
    reading = [False]
    collections: list[dict[str, int]] = []
    block = JournalMemoryStorage._read_folded_block

    def read_block(self: JournalMemoryStorage, deferred: list[tuple[int, bytes]]) -> bool:
        reading[0] = True
        try:
            return block(self, deferred)
        finally:
            reading[0] = False

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and reading[0]:
            collections.append(info)

    monkeypatch.setattr(JournalMemoryStorage, "_read_folded_block", read_block)
    storage = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False, deferred=told_lines(journal))
    thresholds = gc.get_threshold()
    gc.callbacks.append(seen)
    gc.set_threshold(1, 1, 1)
    try:
        storage.read_told()
        assert gc.isenabled()
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(seen)
    assert collections == []
    assert len(storage.get_all_trials(0)) == 12


def test_held_trials_count_and_keep_their_numbers_but_reaching_one_raises_history_not_read():
    """A storage holding trials it was not given the lines of (a tell's told objects it does not rewrite) numbers the
    trials after them as the whole journal does; anything that needs a held trial raises HistoryNotReadError."""
    from trading_runtime.optimize.journal_storage import HistoryNotReadError

    _, journal = study_journal()
    lines = journal.splitlines(keepends=True)
    first, _ = told_lines(journal)
    creations = [i for i in range(first, len(lines)) if lines[i].startswith(b'{"op_code":4,')]
    head = lines[:first]  # the study's lines; then every line but the first 8 trials' creations
    rest = [line for i, line in enumerate(lines) if i >= first and i not in creations[:8]]
    whole = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False)
    held = JournalMemoryStorage(BytesJournalBackend(b"".join(head + rest)), evaluations=False,
                                deferred=(len(head), len(head) + len(rest)), held=8)
    (study,) = held.get_all_studies()
    sid = study._study_id
    assert held.held == 8 and held.get_n_trials(sid) == whole.get_n_trials(sid) == 12
    for number in (0, 7):
        with pytest.raises(HistoryNotReadError):
            held.get_trial_id_from_study_id_trial_number(sid, number)
    for reach in (lambda: held.get_all_trials(sid), lambda: held.summaries(sid), lambda: held.get_trial(3),
                  lambda: held.get_best_trial(sid), held.read_told):
        with pytest.raises(HistoryNotReadError):
            reach()
    assert held.get_study_system_attrs(sid) == whole.get_study_system_attrs(sid)
    created = held.create_new_trial(sid)
    assert created == whole.create_new_trial(sid) and held.get_trial(created).number == 12


def test_an_asked_generations_operations_decoded_at_once_give_optunas_replay(monkeypatch):
    """The untold generation's lines (an asked object) are decoded as one JSON array, each line one operation: the
    state is Optuna's replay of them, a parameter whose distribution conflicts with the study's is ignored as the
    replay ignores it, and every operation is kept parsed (for the fold) as ``json.loads`` gives it."""
    live = JournalMemoryStorage(BytesJournalBackend())
    study = optuna.create_study(storage=live, study_name="s")
    live.set_study_system_attr(study._study_id, "k", {"a": [1, 2.5]})
    x = optuna.distributions.FloatDistribution(0.0, 1.0)
    mode = optuna.distributions.CategoricalDistribution(["a", "b"])
    for i in range(3):
        trial = study.ask({"x": x, "mode": mode})
        trial.set_user_attr("evaluation", {"n": i})
    lines = live.backend.dump().splitlines(keepends=True)
    conflict = json.dumps({"op_code": 5, "worker_id": "w", "trial_id": 2, "param_name": "mode",
                           "param_value_internal": 0, "distribution": optuna.distributions.distribution_to_json(
                               optuna.distributions.CategoricalDistribution(["c", "d"]))},
                          separators=(",", ":")).encode() + b"\n"
    journal = b"".join([*lines, conflict])
    per_line: list[bytes] = []
    real = JournalMemoryStorage._read_line

    def read_line(self, line, index=None):
        per_line.append(line)
        return real(self, line, index)

    monkeypatch.setattr(JournalMemoryStorage, "_read_line", read_line)
    reread = JournalMemoryStorage(BytesJournalBackend(journal))
    assert per_line == []  # decoded at once
    replayed = optuna.storages.JournalStorage(BytesJournalBackend(journal))
    assert everything(reread) == everything(replayed)
    assert reread.get_all_trials(study._study_id)[2].params["mode"] in ("a", "b")
    kept = reread.backend._parsed
    assert kept == {i: json.loads(line) for i, line in enumerate(journal.splitlines())}  # for the fold


def test_an_untold_line_that_is_not_one_operation_is_read_line_by_line_with_its_error():
    """Two operations on one line decode as an array of the wrong length: the lines are read one by one, and the
    error is the one reading that line gives."""
    live = JournalMemoryStorage(BytesJournalBackend())
    optuna.create_study(storage=live, study_name="s").ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    lines = live.backend.dump().splitlines(keepends=True)
    joined = b"".join(lines[:-2]) + lines[-2].rstrip(b"\n") + b"," + lines[-1]
    with pytest.raises(json.JSONDecodeError) as batch:
        JournalMemoryStorage(BytesJournalBackend(joined))
    with pytest.raises(json.JSONDecodeError) as alone:
        json.loads(joined.splitlines()[-1])
    assert str(batch.value) == str(alone.value)


def test_a_told_trials_evaluation_is_folded_as_its_lines_text_the_bytes_a_new_encoding_gives(monkeypatch):
    """The fold writes a trial's user attributes set by one line of this process as that line's text (not encoded
    again): the folded lines are byte for byte those of folding the lines read from the journal."""
    from trading_runtime.optimize import journal

    storage = JournalMemoryStorage(BytesJournalBackend())
    study = optuna.create_study(storage=storage, study_name="s")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    evaluations = [{"in_sample": {"sharpe": -0.0, "n": 3, "nan": float("nan"), "big": 1e308}, "fail_reason": None},
                   {"fail_reason": 'fold "wf-001": \u00e9\\ \n ,"user_attr":{}', "nested": [[], {}, [1, {"a": None}]]},
                   {}]
    for i, evaluation in enumerate(evaluations):
        trial = study.ask(dist)
        storage.set_trial_user_attr(trial._trial_id, "evaluation", evaluation)
        study.tell(trial, None if i == 1 else float(i), state=optuna.trial.TrialState.FAIL if i == 1 else None)
    untouched = study.ask(dist)  # a trial without user attributes, folded with "user_attrs":{}
    study.tell(untouched, 0.5)
    lines = list(storage.backend.lines())
    encoded: list[dict[str, object]] = []
    real = journal.journal_line

    def journal_line(entry):
        encoded.append(entry)
        return real(entry)

    monkeypatch.setattr(journal, "journal_line", journal_line)
    assert storage.backend.compact(0)
    assert [e for e in encoded if "user_attrs" in e] == []  # every evaluation's text taken from its line
    monkeypatch.setattr(journal, "journal_line", real)
    assert storage.backend.lines() == journal.compact_journal(lines, 0)
    assert everything(storage) == everything(optuna.storages.JournalStorage(BytesJournalBackend(b"".join(lines))))


def test_an_evaluation_is_held_as_a_copy_unless_its_line_holds_a_nan(monkeypatch):
    """A user attribute of JSON's own types (a tell's evaluation) is copied, not parsed back from its line; a line
    holding a NaN is parsed back (the parser's one NaN object, as a replay holds it). Either way it is what the
    journal gives back, and the caller's object is not held."""
    storage = JournalMemoryStorage(BytesJournalBackend())
    study = optuna.create_study(storage=storage, study_name="s")
    tid = study.ask()._trial_id
    parsed: list[object] = []
    real = json.loads

    def loads(text, *args, **kwargs):
        parsed.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", loads)
    evaluation = {"in_sample": {f"m{i}": i / 3 for i in range(14)}, "out_of_sample": None, "n_folds": 1,
                  "fail_reason": None, "instruments": {"BTC": {"values": [1.5], "fail_reason": "x"}}}
    storage.set_trial_user_attr(tid, "evaluation", evaluation)
    assert parsed == []
    storage.set_trial_user_attr(tid, "nan", {"v": float("nan")})
    assert len(parsed) == 1
    monkeypatch.setattr(json, "loads", real)
    held = storage.get_trial(tid).user_attrs
    assert held["evaluation"] == evaluation and held["evaluation"] is not evaluation
    assert held["evaluation"]["in_sample"] is not evaluation["in_sample"]
    replayed = optuna.storages.JournalStorage(BytesJournalBackend(storage.backend.dump()))
    assert everything(storage) == everything(replayed)
