"""Told objects' indexes (optimize/journal_storage.told_index_line): an ask makes the told trials from them alone;
what it makes equals what the lines give, an index that is damaged or not of its form is never used."""

from __future__ import annotations

import array
import hashlib
import json
import math

import optuna
import pytest
from optuna.storages import JournalStorage

from tests.optimize_support import synthetic_config, synthetic_manifest, synthetic_records
from tests.unit.test_optimize_generation import fresh_store
from trading_runtime.optimize import ask_generation, init_study, tell_generation
from trading_runtime.optimize.journal import CREATE_PREFIX, BytesJournalBackend
from trading_runtime.optimize.journal_storage import (
    TOLD_INDEX,
    HistoryNotReadError,
    JournalMemoryStorage,
    _attrs_of,
    _externals,
    _packed,
    _packed_attrs,
    _packed_values,
    _param_dicts,
    checked_told_index,
    told_index_doc,
    told_index_line,
)
from trading_runtime.optimize.storage import _load, _Reading, forget_cached_storages, stored_journal
from trading_runtime.store import CorruptArtifactError
from trading_runtime.store.sealed import seal

FOLDER = "/storage/journal/"


def check(p):
    return "x too large" if p["x"] > 2.5 else None  # some trials fail at the ask (user attributes, not complete)


def study(sampler="tpe", generations=7, objectives=None):
    """A study of 4-trial generations, ``generations`` of them told through the real ask and tell steps (7 = 0b111:
    told objects of 4, 2 and 1 generations), one more asked."""
    extra = {"sampler": {"name": sampler, "seed": 4}, "n_trials": 4 * (generations + 2), "batch_size": 4}
    if objectives:
        extra["objectives"] = objectives
    m = synthetic_manifest(synthetic_config(**extra))
    store = fresh_store()
    init_study(store, m)
    for g in range(generations):
        asked = ask_generation(store, m, g, check)
        tell_generation(store, m, g, lambda asked=asked: synthetic_records(m, asked))
    ask_generation(store, m, generations, check)
    forget_cached_storages()
    return m, store


def told_keys(store, m):
    return sorted(k for k in store.list_keys(m.keys.root + FOLDER) if ".told." in k)


def current_told_keys(store, m, generations=7):
    """The told objects a reader reads after ``generations`` told (one per set bit, largest first)."""
    done, out = 0, []
    for bit in reversed(range(generations.bit_length())):
        if generations >> bit & 1:
            done += 1 << bit
            out.append(f"{m.keys.root}{FOLDER}g{done - 1:04d}.told.v2.log")
    return out


def read(store, m, alone):
    """An ask's read of the stored study (``alone``: from the told indexes alone, when every told object has one)."""
    forget_cached_storages()
    opened = _load(store, m.storage_location, _Reading(evaluations=False, history=True, alone=alone))
    assert opened is not None
    return opened


def state(storage):
    (summary,) = storage.get_all_studies()
    sid = summary._study_id
    trials = storage.get_all_trials(sid, deepcopy=False)
    return ([(list(t.__dict__), t.__dict__, list(t.params), list(t.distributions)) for t in trials],
            summary.user_attrs, summary.system_attrs, storage._studies[sid].param_distribution
            if isinstance(storage, JournalMemoryStorage) else None)


def without_evaluations(trials):
    """Optuna's replay's trials with the complete ones' user attributes left out (as an ask reads them)."""
    out = []
    for keys, fields, params, dists in trials:
        complete = fields["state"] == optuna.trial.TrialState.COMPLETE
        out.append((keys, {**fields, "_user_attrs": {}} if complete else fields, params, dists))
    return out



@pytest.mark.parametrize("sampler,objectives", [
    ("tpe", None), ("random", None),
    ("nsga2", [{"metric": "sharpe", "direction": "maximize"}, {"metric": "total_return", "direction": "minimize"}]),
])
def test_the_told_trials_an_ask_makes_from_the_indexes_alone_are_those_the_lines_and_optunas_replay_give(
        local_zone, sampler, objectives):
    m, store = study(sampler, objectives=objectives)
    fast = read(store, m, alone=True)
    # Made from the indexes alone: no told line in the journal held, no evaluation to read, never kept for a step
    assert fast.held and not fast.storage.evaluations and fast.starts[fast.told] == fast.starts[0]
    with pytest.raises(HistoryNotReadError):
        fast.storage.read_evaluations()
    got = state(fast.storage)
    trials = got[0]
    assert any(t[1]["state"] == optuna.trial.TrialState.FAIL and t[1]["_user_attrs"] for t in trials[:28])
    assert all(t[1]["state"].is_finished() for t in trials[:28]) and len(trials) == 32  # + the asked generation
    if sampler != "random":  # TPE's relative params, NSGA-II's generations: in the trials' system attributes
        assert any(t[1]["_system_attrs"] for t in trials[:28])

    journal = stored_journal(store, m.storage_location)
    assert TOLD_INDEX not in journal  # the stored journal holds the lines only
    lines = journal.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(CREATE_PREFIX))
    last = max(i for i, line in enumerate(lines) if b'"trading_runtime_told_before":{"generation":7' in line)
    from_lines = JournalMemoryStorage(BytesJournalBackend(journal), evaluations=False, deferred=(first, last))
    indexed_lines = read(store, m, alone=False)  # the lines read, their trials made from the indexes
    assert not indexed_lines.held and indexed_lines.storage._unread
    assert state(indexed_lines.storage) == state(from_lines) == got

    replay = JournalStorage(BytesJournalBackend(journal))
    want = state(replay)
    assert without_evaluations(want[0]) == trials and want[1:3] == got[1:3]
    indexed_lines.storage.read_evaluations()
    assert state(indexed_lines.storage)[0] == want[0]


def test_every_told_object_of_the_binary_counter_carries_its_index_under_its_seal():
    m, store = study(generations=7)
    assert told_keys(store, m) == [f"{m.keys.root}{FOLDER}g{g:04d}.told.v2.log" for g in range(7)]
    for key in current_told_keys(store, m):
        raw = store.get_bytes(key)
        *rest, index_line, _ = raw.splitlines(keepends=True)
        assert seal(b"".join(rest) + index_line, "journal") == raw  # the seal covers the index
        docs = checked_told_index(index_line)
        assert docs is not None and index_line == told_index_line(docs)
        # One part per generation (a tell merges the parts of the objects it merges), each its generation's lines'
        generations = []
        for line in rest:
            if line.startswith(b'{"op_code":3,') and b"trading_runtime_told_before" in line:
                generations.append([])
            generations[-1].append(line)
        assert len(docs) == len(generations) and docs == [told_index_doc(g) for g in generations]
        for doc in map(json.loads, docs):
            assert len(doc["state"]) == 4 and doc["zone"] == "+00:00" and len(doc["ops"]) == 1


def reseal(store, key, index_line):
    """The told object ``key`` with ``index_line`` as its index (None: no index), sealed again."""
    *rest, _, _ = store.get_bytes(key).splitlines(keepends=True)
    store.put_bytes(key, seal(b"".join(rest) + (index_line or b""), "journal"))


def index_line_of(docs):
    return told_index_line([json.dumps(doc, separators=(",", ":")).encode() for doc in docs])


def asked_again(store, m):
    """Generation 7 asked again from the stored study (its asked object removed): its trials, and the journal's."""
    key = f"{m.keys.root}{FOLDER}g0007.asked.v2.log"
    store.delete(key)
    forget_cached_storages()
    asked = ask_generation(store, m, 7, check)
    forget_cached_storages()
    return [(a.number, a.params, a.invalid) for a in asked]


def test_a_damaged_index_is_caught_by_the_seal_of_its_object():
    m, store = study()
    key = current_told_keys(store, m)[0]
    raw = store.get_bytes(key)
    at = raw.index(TOLD_INDEX)
    damaged = raw[:at] + raw[at:].replace(b'"state":[1', b'"state":[3', 1)
    assert damaged != raw
    store.put_bytes(key, damaged)
    forget_cached_storages()
    with pytest.raises(CorruptArtifactError) as e:
        ask_generation(store, m, 7, check)
    assert "its last line is not the seal of its lines" in str(e.value) and key in str(e.value)


@pytest.mark.parametrize("change", ["no index", "a trial short", "wrong study", "not json", "params swapped"])
def test_an_index_missing_or_not_of_its_lines_form_is_not_used_and_the_ask_asks_the_same(change):
    m, store = study()
    want = asked_again(store, m)
    reference = state(read(store, m, alone=False).storage)
    key = current_told_keys(store, m)[0]
    index_line = store.get_bytes(key).splitlines(keepends=True)[-2]
    docs = [json.loads(doc) for doc in checked_told_index(index_line) or []]
    doc, rest = docs[-1], docs[:-1]
    if change == "no index":  # as an earlier version wrote it
        changed = None
    elif change == "a trial short":
        changed = index_line_of([*rest, {**doc, "state": doc["state"][:-1], "values": doc["values"][:-1],
                                         "start": doc["start"][:-1], "complete": doc["complete"][:-1],
                                         "system_attrs": doc["system_attrs"][:-1],
                                         "params": [p[:-1] for p in doc["params"]]}])
    elif change == "wrong study":
        changed = index_line_of([*rest, {**doc, "study_id": 7}])
    elif change == "params swapped":  # one column fewer than the distributions
        changed = index_line_of([*rest, {**doc, "params": doc["params"][1:]}])
    else:
        text = b"[not json\n"
        changed = b"%s%s %s" % (TOLD_INDEX, hashlib.sha256(text).hexdigest().encode(), text)
    reseal(store, key, changed)
    fast = read(store, m, alone=True)
    assert not fast.held and fast.storage._unread  # read from the lines
    assert state(fast.storage) == reference
    assert asked_again(store, m) == want


def test_lines_an_index_does_not_cover_get_none():
    m, store = study(generations=1)
    lines = stored_journal(store, m.storage_location).splitlines(keepends=True)
    told = [line for line in lines if line.startswith(CREATE_PREFIX)][:2]
    assert told_index_doc(told) is not None
    ops = [line for line in lines if line.startswith(b'{"op_code":3,')]
    assert told_index_doc(told + ops[:1]) is not None
    assert told_index_doc([told[0], told[1].replace(b'"system_attrs":{}', b'"system_attrs":{"k":1}')]) is not None
    for old, new in [(b'"system_attrs":{}', b'"system_attrs":[1]'),
                     (b'"intermediate_values":{}', b'"intermediate_values":{"0":1.0}'),
                     (b'"state":1', b'"state":0'),
                     (b'"datetime_start":"', b'"value":1.0,"datetime_start":"'),
                     (b'"params":{"mode"', b'"params":{"zmode"'),
                     (b'{\\"choices\\": [\\"a\\", \\"b\\"]}', b'{\\"choices\\": [\\"a\\", \\"c\\"]}')]:
        assert old in told[1]
        assert told_index_doc([told[0], told[1].replace(old, new, 1)]) is None, new
    assert told_index_doc([*told, lines[0]]) is None  # a study's creation: not an attribute operation
    assert told_index_doc([]) is None


def test_a_tell_merging_told_objects_without_an_index_gives_the_merged_object_one():
    m, store = study()
    for key in current_told_keys(store, m):  # as an earlier version of this format wrote them: no index
        reseal(store, key, None)
    assert read(store, m, alone=True).held is False  # read from the lines
    asked = ask_generation(store, m, 7, check)
    forget_cached_storages()
    tell_generation(store, m, 7, lambda: synthetic_records(m, asked))  # 8 = 0b1000: merges them all
    (key,) = current_told_keys(store, m, generations=8)
    *rest, index_line, _ = store.get_bytes(key).splitlines(keepends=True)
    assert checked_told_index(index_line) == [told_index_doc(rest)]  # one part, of the merged lines
    fast = read(store, m, alone=True)
    assert fast.held and state(fast.storage) == state(read(store, m, alone=False).storage)


def as_lists(doc):
    """A told index part (JSON) as the previous format wrote it: every column a JSON list (no packed column)."""
    def numbers(text):
        code, packed = text.split(":", 1)
        return array.array(code, bytes.fromhex(packed)).tolist()

    out = dict(doc)
    out["params"] = [numbers(c) if isinstance(c, str) else c for c in doc["params"]]
    if isinstance(doc["system_attrs"], str):  # "s:" keys, then each trial's texts; DEL between; quotes swapped
        texts = doc["system_attrs"][2:].translate(str.maketrans({'"': "'", "'": '"'})).split("\x7f")
        k = len(texts) // (len(doc["state"]) + 1)
        keys = texts[:k]
        out["system_attrs"] = [dict(zip(keys, texts[i:i + k], strict=True)) for i in range(k, len(texts), k)]
    if isinstance(doc["values"], str):
        flat = numbers(doc["values"])
        k = len(flat) // len(doc["state"])
        rows = [flat[i:i + k] for i in range(0, len(flat), k)]
        out["values"] = [None if math.isnan(row[0]) else row for row in rows]
    return out


def rewrite_parts(store, key, change):
    """The told object ``key`` with its index's parts changed by ``change(position, doc)``, sealed again."""
    index_line = store.get_bytes(key).splitlines(keepends=True)[-2]
    docs = [json.loads(doc) for doc in checked_told_index(index_line)]
    reseal(store, key, index_line_of([change(i, doc) for i, doc in enumerate(docs)]))


def test_the_index_packs_its_columns_and_reads_them_as_the_lines_give_them(local_zone):
    m, store = study(generations=7)
    packed_attrs = []
    for key in current_told_keys(store, m):
        for doc in map(json.loads, checked_told_index(store.get_bytes(key).splitlines()[-2]) or []):
            # params: categorical indexes (ints), the float and int params' internal floats; values: one float each,
            # NaN for the failed trials' None
            assert [c[:2] for c in doc["params"]] == ["q:", "d:", "d:"] and doc["values"][:2] == "d:"
            assert len(doc["values"]) == 2 + 16 * len(doc["state"])
            packed_attrs.append(isinstance(doc["system_attrs"], str) and doc["system_attrs"].startswith("s:"))
    assert all(packed_attrs)  # TPE's relative params (texts): one text per part
    want = asked_again(store, m)
    packed = read(store, m, alone=True)
    for key in current_told_keys(store, m):
        rewrite_parts(store, key, lambda i, doc: as_lists(doc))
    assert b'"values":[' in store.get_bytes(current_told_keys(store, m)[0])
    listed = read(store, m, alone=True)
    assert packed.held and listed.held  # both made from their indexes alone
    assert state(packed.storage) == state(listed.storage) == state(read(store, m, alone=False).storage)
    assert asked_again(store, m) == want


def test_an_object_whose_parts_are_of_both_forms_reads_as_its_lines():
    """A tell merging told objects written before packed columns with newer ones: parts of both forms in one index."""
    m, store = study(generations=7)
    want = asked_again(store, m)
    reference = state(read(store, m, alone=False).storage)
    key = current_told_keys(store, m)[0]  # generations 0-3: 4 parts
    rewrite_parts(store, key, lambda i, doc: as_lists(doc) if i % 2 else doc)
    fast = read(store, m, alone=True)
    assert fast.held and state(fast.storage) == reference
    assert asked_again(store, m) == want


@pytest.mark.parametrize("change", ["values cut", "values of another width", "values of ints", "values not packed",
                                    "params cut", "params not hex", "params of an unknown type"])
def test_a_packed_column_not_of_its_form_makes_the_index_unused(change):
    m, store = study()
    reference = state(read(store, m, alone=False).storage)
    key = current_told_keys(store, m)[0]

    def damaged(i, doc):
        if i != 2:
            return doc
        p = doc["params"]
        if change == "values cut":
            return {**doc, "values": doc["values"][:-16]}
        if change == "values of another width":  # 2 floats per trial in this part, 1 in the others
            return {**doc, "values": doc["values"] + doc["values"][2:]}
        if change == "values of ints":
            return {**doc, "values": "q:" + doc["values"][2:]}
        if change == "values not packed":
            return {**doc, "values": "values"}
        if change == "params cut":
            return {**doc, "params": [p[0], p[1][:-16], p[2]]}
        if change == "params not hex":
            return {**doc, "params": [p[0], p[1][:-4] + "zz  ", p[2]]}
        return {**doc, "params": [p[0], "f" + p[1][1:], p[2]]}

    rewrite_parts(store, key, damaged)
    fast = read(store, m, alone=True)
    assert not fast.held and fast.storage._unread  # read from the lines
    assert state(fast.storage) == reference


def test_columns_are_packed_only_when_they_read_back_the_same():
    assert _packed([0.5, -0.0, float("inf")]).startswith("d:") and _packed([1, -2, 2**63 - 1]).startswith("q:")
    for column in ([1, 2.0], [True, False], [2**63], [1, None], [], ["a"]):
        assert _packed(column) == column  # mixed, bools, beyond int64, None, empty, text: a JSON list
    assert _packed_values([[1.0], None, [2.5]]).startswith("d:")
    assert _packed_values([[1.0, 2.0], None]).startswith("d:")
    for values in ([[1.0], [1.0, 2.0]], [None, None], [[]], [[1.0], [float("nan")]], [[1]], [[1.0], "x"]):
        assert _packed_values(values) == values or values == [[1.0], [float("nan")]]
        assert not isinstance(_packed_values(values), str)


def test_told_params_are_made_external_as_to_external_repr_makes_them():
    class Doubled(optuna.distributions.FloatDistribution):  # not one of Optuna's own: its to_external_repr is called
        def to_external_repr(self, param_value_in_internal_repr):
            return 2 * param_value_in_internal_repr

    cases = [(optuna.distributions.CategoricalDistribution(["a", None, 3, 1.5, True]), [0, 1, 2, 3, 4, -1]),
             (optuna.distributions.CategoricalDistribution(["a", "b"]), [1.0, 0.0, True]),  # not ints: to_external_repr
             (optuna.distributions.IntDistribution(-10, 10), [-3.0, 4.0, 7]),
             (optuna.distributions.IntDistribution(1, 64, log=True), [1.0, 63.99999]),
             (optuna.distributions.FloatDistribution(-5, 5, step=0.1), [0.1, -0.0, 2.5000000000000004]),
             (Doubled(0, 1), [0.25, 0.5])]
    for dist, column in cases:
        got, want = _externals(dist, column), [dist.to_external_repr(v) for v in column]
        assert got == want and [type(v) for v in got] == [type(v) for v in want], dist


class CountingStore:
    """A store that records the requests made to it (operation, key)."""

    def __init__(self, inner):
        self.inner, self.requests = inner, []

    @property
    def uri(self):
        return self.inner.uri

    def get_bytes(self, key):
        self.requests.append(("get", key))
        return self.inner.get_bytes(key)

    def exists(self, key):
        self.requests.append(("exists", key))
        return self.inner.exists(key)

    def put_bytes(self, key, data):
        raise AssertionError("a read writes nothing")

    def delete(self, key):
        raise AssertionError("a read deletes nothing")

    def list_keys(self, prefix=""):
        raise AssertionError("readers never list")


def test_an_asks_read_requests_each_object_once_and_checks_no_existence_apart():
    m, store = study(generations=7)  # told objects g0003, g0005, g0006; g0007 asked; 9 generations in all
    counting = CountingStore(store)
    forget_cached_storages()
    opened = _load(counting, m.storage_location, _Reading(evaluations=False, history=True, alone=True))
    assert opened is not None and opened.held  # from the indexes alone
    folder = f"{m.keys.root}{FOLDER}"
    assert counting.requests == [
        ("get", f"{m.keys.root}/storage/journal.v2.log"),
        # T found bit by bit: 8 told? no (neither sealed nor marked); 4, 6, 7 told: each read as it is probed
        ("get", f"{folder}g0007.told.v2.log"), ("get", f"{folder}g0007.told.log.SUCCESS"),
        ("get", f"{folder}g0003.told.v2.log"), ("get", f"{folder}g0005.told.v2.log"),
        ("get", f"{folder}g0006.told.v2.log"),
        ("get", f"{folder}g0007.asked.v2.log")]
    assert state(opened.storage) == state(read(store, m, alone=False).storage)


@pytest.mark.parametrize("width", [0, 1, 2, 3, 4, 5])
def test_told_params_dicts_hold_each_trials_items_in_the_distributions_order(width):
    names = [f"p{9 - i}" for i in range(width)]  # not sorted: the order is the distributions'
    columns = [[f"{name}-{t}" for t in range(3)] for name in names]
    got = _param_dicts(names, columns, 3)
    assert got == [{name: f"{name}-{t}" for name in names} for t in range(3)]
    assert [list(d) for d in got] == [names] * 3 and len({id(d) for d in got}) == 3


def test_parts_whose_columns_are_each_whole_only_when_joined_make_the_index_unused():
    """Consecutive parts are joined into one index: each part's columns must still hold its own trials' items."""
    m, store = study()
    reference = state(read(store, m, alone=False).storage)
    key = current_told_keys(store, m)[0]  # generations 0-3: 4 parts of 4 trials
    moved = {}

    def shifted(i, doc):  # part 1's last start time moved to the front of part 2's: 3 and 5 start times
        if i == 1:
            moved["start"] = doc["start"][-1]
            return {**doc, "start": doc["start"][:-1]}
        if i == 2:
            return {**doc, "start": [moved["start"], *doc["start"]]}
        return doc

    rewrite_parts(store, key, shifted)
    fast = read(store, m, alone=True)
    assert not fast.held and fast.storage._unread  # read from the lines
    assert state(fast.storage) == reference


def test_system_attributes_are_packed_only_when_they_read_back_the_same():
    packable = [
        [{"tpe:relative_params:0": '{"mode": "b", "x": 1.3000000000000007}'}, {"tpe:relative_params:0": "it's"}],
        [{"a": "1", "b": ""}, {"a": "é \\ \" '", "b": "\n\t"}, {"a": "", "b": "x"}],  # several keys, escapes, unicode
    ]
    for attrs in packable:
        packed = _packed_attrs(attrs)
        assert isinstance(packed, str) and packed.startswith("s:")
        got = _attrs_of(packed, len(attrs))
        assert got == attrs and [list(a) for a in got] == [list(a) for a in attrs]
        assert _attrs_of(packed, len(attrs) + 1) is None  # a trial more than it holds
    for attrs in ([{}, {}], [{"a": "1"}, {"b": "1"}], [{"a": "1", "b": "2"}, {"b": "2", "a": "1"}], [{"a": 1}],
                  [{"a": "x\x7fy"}], [{"a": "\udc80"}], [{"a": "1"}, []], []):
        assert _packed_attrs(attrs) == attrs  # none, other keys or order, not texts, a DEL, not UTF-8: JSON lists
