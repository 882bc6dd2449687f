"""The storage a generation step uses: Optuna's in-memory storage, read from and written as a journal.

A coordinator step reads the journal's objects (``optimize/storage.py``: lines of ``optimize/journal.py``) into a
:class:`JournalMemoryStorage`: Optuna's in-memory storage, filled from the journal's operations, that
writes every change it makes as the operation Optuna's ``JournalStorage`` would write (the same fields,
the same line format: the stored journal stays an ordinary Optuna journal file) and holds the state that
``JournalStorage`` would replay from those lines: attributes and values pass through JSON as the
journal's do, and a trial's times are the journal's (UTC in the line, local without a zone in the trial).

Why not ``JournalStorage`` itself: it replays every stored line through JSON and rebuilds each
parameter's distribution from its JSON text (~40 µs per stored trial), and it replays each operation a
step makes (~0.5 ms per TPE trial more than the in-memory storage, CPU time, 1,000 trials). Here a told
trial's folded line (``journal.compact_journal``) is read in one pass with the distributions parsed once per
journal; with ``evaluations=False`` (the ask and tell steps) a complete trial's user attributes (its
evaluation, ~1.2 kB of JSON that no sampler reads) are not parsed at all: folded lines keep
``user_attrs`` last, so the line's head is parsed alone. Readers of results (finalize, verify) load
everything. A tell's storage may also hold trials whose lines it is not given at all (``held``: the told
objects its fold does not rewrite); reaching one raises :class:`HistoryNotReadError`.

Told objects carry a told index (:func:`told_index_line`: per told generation, its trials' states, values, times,
params and system attributes in columns, and its study operations), under their seal. An ask makes the told trials
from the indexes alone (``indexed``: each checked by its own sha256; the lines are neither hashed, split nor decoded,
and its storage has no evaluations to read); a reader given the lines with their indexes (``indexes``) makes the
trials from the indexes too and keeps the lines for :meth:`read_evaluations`. Lines an index does not cover (an
earlier version's objects, intermediate values, several distributions) are read as above.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import itertools
import json
import re
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Container, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any, NamedTuple

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.storages import InMemoryStorage
from optuna.storages._in_memory import _StudyInfo
from optuna.study._study_direction import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from trading_runtime.optimize.journal import (
    CREATE_PREFIX,
    CREATE_STUDY,
    CREATE_TRIAL,
    FINISHED_STATES,
    SET_INTERMEDIATE,
    SET_PARAM,
    SET_STATE,
    SET_STUDY_SYSTEM_ATTR,
    SET_STUDY_USER_ATTR,
    SET_SYSTEM_ATTR,
    SET_USER_ATTR,
    BytesJournalBackend,
    journal_line,
)

__all__ = ["TOLD_INDEX", "HistoryNotReadError", "JournalMemoryStorage", "TrialSummary", "checked_told_index",
           "collector_paused", "told_index_doc", "told_index_line"]


class HistoryNotReadError(Exception):
    """A held trial (``JournalMemoryStorage(held=…)``: its journal lines were not read) was needed."""


class TrialSummary(NamedTuple):
    number: int
    state: TrialState
    values: list[float] | None


_USER_ATTRS = b',"user_attrs":'
_DISTRIBUTIONS = b',"distributions":'
_SYSTEM_ATTRS = b',"system_attrs":'
_CLOSE = ord("}")
_STATES = {int(s): s for s in TrialState}
_COMPLETE = int(TrialState.COMPLETE)
_UTC = "+00:00"
_FINISHED = frozenset(FINISHED_STATES)
# The keys a folded line holds before ``user_attrs`` (its last key): a head holding them all was cut at the
# top-level ``user_attrs`` (JSON objects have unique keys; a cut inside a nested value lacks the later ones).
_HEAD_KEYS = frozenset({"op_code", "worker_id", "study_id", "datetime_start", "params", "distributions",
                        "system_attrs", "intermediate_values", "state"})

_decode = json.JSONDecoder().decode
_NATIVE_NODES = 32  # how many values _native looks at before it gives up (parsing the line back is then cheaper)
_ATTR_NODES = 256  # the same for a trial's user attribute (an evaluation: ~35 values; a universe's, ~20 per instrument)


# The end of a folded line's head (the part before user_attrs): state, values (absent when none), completion time.
_HEAD_END = re.compile(rb',"state":([0-9]+)(?:,"values":(null|\[[^\]]*\]))?(?:,"datetime_complete":"[^"]*")?$')


def _common_section(lines: Sequence[bytes]) -> bytes | None:
    """The distributions section (``,"distributions":{…}``, up to ``,"system_attrs":``) that every one of
    ``lines`` holds before its ``user_attrs``, bounded as :meth:`JournalMemoryStorage._head` requires; None when
    a line has none or another one."""
    section: bytes | None = None
    for line in lines:
        cut = line.find(_USER_ATTRS)
        start = line.find(_DISTRIBUTIONS, 0, cut) if cut > 0 else -1
        if start <= 0 or line[start - 1] != _CLOSE:
            return None
        if section is None:
            stop = line.find(_SYSTEM_ATTRS, start, cut)
            if stop < 0 or line[stop - 1] != _CLOSE:
                return None
            section = line[start:stop]
        elif not (line.startswith(section, start) and line.startswith(_SYSTEM_ATTRS, start + len(section))):
            return None
    return section


def _decoded_array(items: Sequence[bytes]) -> list[Any] | None:
    """``items`` (JSON texts) decoded as one JSON array; None when they are not JSON."""
    try:
        out: list[Any] = _decode("[" + b",".join(items).decode() + "]")
    except ValueError:
        return None
    return out


def _heads(lines: Sequence[bytes], section: bytes) -> list[Any] | None:
    """The heads (before ``user_attrs``) of folded lines that all hold the distributions ``section``
    (``_common_section``), decoded as one JSON array without it; None when they are not JSON."""
    parts: list[bytes] = []
    for line in lines:
        cut = line.find(_USER_ATTRS)
        at = line.find(_DISTRIBUTIONS, 0, cut)
        parts.append(line[:at] + line[at + len(section):cut] + b"}")
    return _decoded_array(parts)


def _section_texts(section: bytes) -> dict[str, str]:
    """The distributions' JSON texts by name of a distributions section (``,"distributions":{…}``)."""
    texts: dict[str, str] = _decode("{" + section[1:].decode() + "}")["distributions"]
    return texts


TOLD_INDEX = b"#trading-runtime told-index sha256="  # how a told object's index line starts (see told_index_line)
_STUDY_OP_PREFIXES = (b'{"op_code":2,', b'{"op_code":3,')  # the study attribute operations a told object may hold


def told_index_doc(lines: Sequence[bytes]) -> bytes | None:
    """The told index of ``lines`` (JSON: one part of a told index line, ``told_index_line``), or None when a line is
    not of the simple form it covers.

    It holds the study attribute operations among the lines (their text, in order), the distributions section the
    trials' folded lines share (its text), the study id, and the trials in columns: states, values, start and
    completion times (as the lines hold them; their zone once when every one is UTC's), each parameter's internal
    values (in the order of the distributions), system attributes (TPE's relative params), and the user attributes of
    the trials that are not complete (by position). The values and params columns are packed when they can be
    (``_packed``: their numbers' bytes in hex, not their text), and the system attributes (``_packed_attrs``: one
    text); an index written before that holds JSON lists, and is read as well. The simple form: every line a study
    attribute operation or a folded line of a finished trial of one study, with the same distributions, its params in
    their order, no intermediate values or single ``value``."""
    trials = [line for line in lines if line.startswith(CREATE_PREFIX)]
    ops = [line for line in lines if line.startswith(_STUDY_OP_PREFIXES)]
    section = _common_section(trials) if trials else None
    if section is None or len(trials) + len(ops) != len(lines):
        return None
    heads = _heads(trials, section)
    try:
        names = list(_section_texts(section))
    except ValueError:
        return None
    if heads is None:
        return None
    study_id = heads[0].get("study_id") if type(heads[0]) is dict else None
    wanted = _HEAD_KEYS - {"distributions"}
    for h in heads:
        if not (type(h) is dict and h.keys() >= wanted and type(h["state"]) is int and h["state"] in FINISHED_STATES
                and h["study_id"] == study_id and type(h["system_attrs"]) is dict and h["intermediate_values"] == {}
                and h.get("value") is None and type(h["params"]) is dict and list(h["params"]) == names):
            return None
    unfinished = {str(i): json.loads(trials[i])["user_attrs"] for i, h in enumerate(heads) if h["state"] != _COMPLETE}
    starts, ends = [h["datetime_start"] for h in heads], [h.get("datetime_complete") for h in heads]
    # Times in UTC (as Optuna's journal writes them): the zone once, not in every time
    zone = _UTC if all(type(t) is str and t.endswith(_UTC) for t in (*starts, *ends)) else ""
    if zone:
        starts, ends = [t[:-len(zone)] for t in starts], [t[:-len(zone)] for t in ends]
    return journal_line({
        "study_id": study_id, "ops": [op.decode() for op in ops], "section": section.decode(),
        "state": [h["state"] for h in heads], "values": _packed_values([h.get("values") for h in heads]),
        "zone": zone, "start": starts, "complete": ends,
        "system_attrs": _packed_attrs([h["system_attrs"] for h in heads]),
        "params": [_packed([h["params"][name] for h in heads]) for name in names], "user_attrs": unfinished})[:-1]


# A told index's numeric columns (params, values) packed: "d:" (every item a float) or "q:" (every item an int of
# int64's range) and the items as little-endian 8-byte numbers in hex (bytes.fromhex: ~4x faster than base64's
# decoder), read back without parsing each number's text (the same floats and ints: the same types, the same bits). A
# column of anything else is a JSON list, as every column of an index written before them is (and is read as such).
_PACKED_TYPES = {"d": float, "q": int}


def _packed(column: list[Any]) -> str | list[Any]:
    """A numeric column as ``told_index_doc`` writes it: packed when it can be, else itself."""
    for code, kind in _PACKED_TYPES.items():
        if column and all(type(x) is kind for x in column):
            try:
                items = array(code, column)
            except OverflowError:  # an int beyond int64's range
                return column
            if sys.byteorder != "little":
                items.byteswap()
            return f"{code}:{items.tobytes().hex()}"
    return column


def _numbers(column: Any) -> tuple[str, str] | None:
    """The typecode and the hex of a packed column (``_packed``); None when it is not one."""
    if type(column) is not str or column[1:2] != ":" or column[:1] not in _PACKED_TYPES:
        return None
    return column[0], column[2:]


def _packed_alike(columns: Sequence[Any]) -> str | None:
    """The typecode of ``columns`` when every one is packed (``_packed``) with it; else None."""
    first = _numbers(columns[0])
    if first is None or set(map(type, columns)) != {str} or \
            not all(map(str.startswith, columns, repeat(columns[0][:2]))):
        return None
    return first[0]


def _items(code: str, texts: Sequence[str]) -> list[Any] | None:
    """Packed numbers (``_numbers``' hex, a whole number of them in all) as one list; None when they are not hex."""
    try:
        raw = bytes.fromhex("".join(texts))
    except ValueError:
        return None
    if 2 * len(raw) != sum(map(len, texts)):  # (fromhex skips whitespace)
        return None
    items = array(code)
    items.frombytes(raw)
    if sys.byteorder != "little":
        items.byteswap()
    out: list[Any] = items.tolist()
    return out


def _joined(columns: Sequence[Any], sizes: Sequence[int]) -> list[Any] | None:
    """A column of consecutive told indexes (each a JSON list of its index's ``size`` items, or packed: ``_packed``) as
    one list, in order; None when one is neither."""
    code = _packed_alike(columns)
    if code is not None:  # one array
        texts = [c[2:] for c in columns]
        return _items(code, texts) if list(map(len, texts)) == [16 * size for size in sizes] else None
    packed = list(map(_numbers, columns))
    out: list[Any] = []
    for column, p, size in zip(columns, packed, sizes, strict=True):
        items = _items(*p) if p is not None and len(p[1]) == 16 * size else \
            column if type(column) is list and len(column) == size else None
        if items is None:
            return None
        out += items
    return out


def _packed_values(values: list[Any]) -> str | list[Any]:
    """The values column as ``told_index_doc`` writes it: packed (``_packed``) when every trial's values are None or
    ``k`` floats, none NaN (a trial without values: ``k`` NaNs), the same ``k`` >= 1 for all; else itself."""
    sizes = {len(v) if type(v) is list else -1 for v in values if v is not None}
    if len(sizes) != 1 or min(sizes) < 1:
        return values
    nans = [float("nan")] * min(sizes)
    flat = [x for v in values for x in (nans if v is None else v)]
    if any(x != x for v in values if v is not None for x in v):  # (NaN: never equal to itself)
        return values
    packed = _packed(flat)
    return packed if type(packed) is str and packed.startswith("d:") else values


def _joined_values(columns: Sequence[Any], sizes: Sequence[int]) -> tuple[list[Any], bool] | None:
    """The values columns of consecutive told indexes (JSON lists, or packed: ``_packed_values``) as one list of the
    trials' values (None, or a list of floats), in order, and False; or, when they are packed with one float per
    trial, as each trial's value (None, or a float), and True. None when a column is neither."""
    if _packed_alike(columns) == "d":  # one array
        texts = [c[2:] for c in columns]
        k = len(texts[0]) // (16 * sizes[0]) if sizes[0] > 0 else 0
        flat = _items("d", texts) if k >= 1 and list(map(len, texts)) == [16 * k * size for size in sizes] else None
        if flat is None:
            return None
        if k == 1:
            return [None if v != v else v for v in flat], True  # (NaN: no values)
        rows = _rows(flat, k)
        return None if rows is None else (rows, False)
    out: list[Any] = []
    for column, size in zip(columns, sizes, strict=True):
        if type(column) is list and len(column) == size:
            out += column
            continue
        joined = _joined_values([column], [size]) if _packed_alike([column]) == "d" else None
        if joined is None:
            return None
        out += [v if v is None else [v] for v in joined[0]] if joined[1] else joined[0]
    return out, False


def _rows(flat: list[float], k: int) -> list[list[float] | None] | None:
    """Packed values (``_packed_values``: ``k`` > 1 per trial) as the trials' values; None when a trial's are partly
    NaN."""
    out: list[list[float] | None] = []
    for at in range(0, len(flat), k):
        row = flat[at:at + k]
        nans = sum(x != x for x in row)
        if nans not in (0, k):
            return None
        out.append(None if nans else row)
    return out


_SEP = "\x7f"  # between a packed attributes column's texts (_packed_attrs)
_SWAP = bytes.maketrans(b"\"'", b"'\"")  # (its own inverse; UTF-8 holds these bytes for these characters only)


def _packed_attrs(attrs: list[Any]) -> str | list[Any]:
    """The system attributes column as ``told_index_doc`` writes it: packed when every trial's are texts under the same
    keys in the same order, none holding a DEL: ``"s:"`` and the keys' and then each trial's texts, a DEL between
    them, their double and single quotes swapped (JSON would escape each double quote: TPE's relative params are
    JSON texts); else itself."""
    keys = list(attrs[0]) if attrs and type(attrs[0]) is dict else []
    texts: list[Any] = [*keys, *(v for a in attrs
                                 for v in (a.values() if type(a) is dict and list(a) == keys else [None]))]
    if not keys or any(type(t) is not str or _SEP in t for t in texts):
        return attrs
    try:
        return "s:" + _SEP.join(texts).encode().translate(_SWAP).decode()
    except UnicodeEncodeError:  # a lone surrogate: not UTF-8
        return attrs


def _attrs_of(column: str, size: int) -> list[dict[str, Any]] | None:
    """The system attributes of ``size`` trials as ``_packed_attrs`` wrote them (``column``: a text); None when they are
    not."""
    if not column.startswith("s:") or size <= 0:
        return None
    try:
        texts = column[2:].encode().translate(_SWAP).decode().split(_SEP)
    except UnicodeEncodeError:
        return None
    n = len(texts) // (size + 1)
    if n < 1 or len(texts) != n * (size + 1):
        return None
    if n == 1:
        key = texts[0]
        return [{key: v} for v in texts[1:]]
    keys = texts[:n]
    return [dict(zip(keys, texts[at:at + n], strict=True)) for at in range(n, len(texts), n)]


def told_index_line(docs: Sequence[bytes]) -> bytes:
    """A told object's index line: ``#trading-runtime told-index sha256=<hex> <docs>``, the told indexes of its lines'
    consecutive parts (``told_index_doc``: one per told generation, or more; JSON never holds a raw tab) joined by tabs,
    their sha256 (of the joined docs and the newline) before them.

    The line ends the told object's journal lines, under its seal (``storage.py``), and is not a journal line: readers
    take it off. An ask makes the told trials from it alone (``JournalMemoryStorage(indexed=…)``), checked by its own
    sha256, without the trials' lines (their JSON decoded, the object hashed whole). The parts of the told objects a
    tell merges are the merged object's parts: it decodes only its own generation's lines."""
    text = b"\t".join(docs) + b"\n"
    return b"%s%s %s" % (TOLD_INDEX, hashlib.sha256(text).hexdigest().encode(), text)


def checked_told_index(line: bytes) -> list[bytes] | None:
    """The parts of a told index line (``told_index_line``), or None when the line is not one or its parts are not
    what its sha256 says."""
    if not line.startswith(TOLD_INDEX) or line[len(TOLD_INDEX) + 64:len(TOLD_INDEX) + 65] != b" ":
        return None
    text = line[len(TOLD_INDEX) + 65:]
    if hashlib.sha256(text).hexdigest().encode() != line[len(TOLD_INDEX):len(TOLD_INDEX) + 64]:
        return None
    return text.rstrip(b"\n").split(b"\t")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the told trials are made: thousands of objects that live as long
    as the storage and hold no cycles, whose allocation would otherwise set off collections that traverse every
    object of the process (in a 1,000-trial study, ~40 % of the ask's read). Collections resume after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Times:
    """ISO times of the journal (with their zone) → the local times without a zone that Optuna's replay gives."""

    def __init__(self) -> None:
        # A local zone that is UTC all year: the line's UTC time is the local time (no zone lookup per time).
        self.utc = time.daylight == 0 and time.timezone == 0 and \
            datetime(2000, 1, 1, tzinfo=UTC).astimezone().utcoffset() == timedelta(0)

    def local(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        if self.utc and text.endswith("+00:00"):
            return datetime.fromisoformat(text[:-6])
        return datetime.fromisoformat(text).astimezone().replace(tzinfo=None)

    def locals(self, texts: list[str | None], zone: str) -> list[datetime | None]:
        """``local`` of each of ``texts``, whose zone is ``zone`` ("": each text's own)."""
        if zone and self.utc:  # zone is UTC (see told_index_doc)
            return list(map(datetime.fromisoformat, texts))  # type: ignore[arg-type]  # str (_Index.read)
        return [self.local(t if t is None else t + zone) for t in texts]


class _Index(NamedTuple):
    """A told index's JSON (``told_index_doc``; consecutive ones joined: ``read_all``), its form checked, its packed
    columns read."""

    study_id: int
    ops: list[str]
    section: bytes
    states: list[int]
    values: list[list[float] | None]
    zone: str  # "+00:00": every time's zone, taken off them; "": the times hold theirs
    starts: list[str | None]
    ends: list[str | None]
    params: list[list[float]]
    system_attrs: list[dict[str, Any]]
    user_attrs: dict[str, dict[str, Any]]
    single: bool = False  # values: each trial's value (None, or a float), not its list of values

    @classmethod
    def read_all(cls, texts: Sequence[bytes]) -> list[_Index] | None:
        """The indexes of a told index line's parts (``told_index_doc``), decoded as one JSON array; consecutive parts
        of the same study, distributions and zone make one index (their columns joined, in order). None when a part is
        not of told_index_doc's form."""
        docs = _decoded_array(texts)
        if docs is None or len(docs) != len(texts):
            return None
        groups: list[tuple[tuple[Any, Any, Any], list[dict[str, Any]]]] = []
        try:
            for doc in docs:
                key = (doc["study_id"], doc["section"], doc["zone"])
                if groups and groups[-1][0] == key:
                    groups[-1][1].append(doc)
                else:
                    groups.append((key, [doc]))
            indexes = [cls._read_group(group) for _, group in groups]
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if any(index is None for index in indexes):
            return None
        return [index for index in indexes if index is not None]

    @classmethod
    def _read_group(cls, docs: list[dict[str, Any]]) -> _Index | None:
        """The index of consecutive parts of the same study, distributions and zone (``read_all``)."""
        sizes: list[int] = []
        states: list[Any] = []
        starts: list[Any] = []
        ends: list[Any] = []
        system_attrs: list[Any] = []
        ops: list[Any] = []
        user_attrs: dict[str, Any] = {}
        width = len(docs[0]["params"])
        for doc in docs:  # each part's columns: lists of its trials' items (params and values: see below)
            state, start, end, attrs, unfinished = (doc["state"], doc["start"], doc["complete"], doc["system_attrs"],
                                                    doc["user_attrs"])
            size = len(state)
            if type(attrs) is str:
                attrs = _attrs_of(attrs, size)
            if not (type(state) is list and type(start) is list and type(end) is list and type(attrs) is list and
                    type(doc["ops"]) is list and type(doc["params"]) is list and type(unfinished) is dict and
                    len(start) == len(end) == len(attrs) == size and len(doc["params"]) == width):
                return None
            if state.count(_COMPLETE) != size:  # the others' user attributes, by position in the joined index
                user_attrs.update((str(len(states) + i), unfinished.get(str(i))) for i, c in enumerate(state)
                                  if c != _COMPLETE)
            sizes.append(size)
            states += state
            starts += start
            ends += end
            system_attrs += attrs
            ops += doc["ops"]
        columns = [_joined([doc["params"][j] for doc in docs], sizes) for j in range(width)]
        joined = _joined_values([doc["values"] for doc in docs], sizes)
        params = [column for column in columns if column is not None]
        if joined is None or len(params) != len(columns):
            return None
        first = docs[0]
        index = cls(first["study_id"], ops, first["section"].encode(), states, joined[0], first["zone"], starts, ends,
                    params, system_attrs, user_attrs, joined[1])
        if not (type(index.study_id) is int and set(map(type, ops)) <= {str} and index.zone in ("", _UTC) and
                (not index.zone or set(map(type, starts)) | set(map(type, ends)) <= {str}) and
                set(map(type, states)) <= {int} and set(states) <= _FINISHED and
                set(map(type, system_attrs)) <= {dict} and set(map(type, user_attrs.values())) <= {dict}):
            return None
        return index


def _externals(dist: BaseDistribution, column: list[Any]) -> list[Any]:
    """A column of internal values as ``dist.to_external_repr`` gives them, without a call of it per value for Optuna's
    own distributions: a FloatDistribution's are the internal ones, an IntDistribution's ``int(…)`` of them, a
    CategoricalDistribution's its choices at those positions (ints: its ``choices[int(…)]``)."""
    kind = type(dist)
    if kind is FloatDistribution:
        return column
    if kind is IntDistribution:
        return list(map(int, column))
    if kind is CategoricalDistribution:
        with contextlib.suppress(TypeError):  # a position not an int (as JSON gives them): by to_external_repr
            return list(map(dist.choices.__getitem__, column))  # type: ignore[attr-defined]
    return list(map(dist.to_external_repr, column))


def _param_dicts(names: list[str], columns: list[list[Any]], n: int) -> list[dict[str, Any]]:
    """The ``n`` trials' params: ``names`` → each trial's item of each column (of ``n`` items), in that order; made as
    dict displays for up to 3 names (~3x faster than ``dict(zip(names, …))`` per trial)."""
    if not names:
        return [{} for _ in range(n)]
    if len(names) == 1:
        (a,) = names
        return [{a: x} for x in columns[0]]
    if len(names) == 2:
        a, b = names
        return [{a: x, b: y} for x, y in zip(*columns, strict=True)]
    if len(names) == 3:
        a, b, c = names
        return [{a: x, b: y, c: z} for x, y, z in zip(*columns, strict=True)]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class JournalMemoryStorage(InMemoryStorage):
    """Optuna's in-memory storage, read from a journal's lines, writing its changes as journal operations.

    ``evaluations=False``: a complete trial read from a folded line has no user attributes until
    :meth:`read_evaluations` (see the module docstring).

    ``deferred``: lines ``start`` … ``stop`` - 1 (told generations: folded lines) are read only when one of
    their trials or every trial is asked for (or :meth:`read_told`), all at once: their heads decoded as one
    JSON array, the distributions once; until then their trials' slots are held (numbers and ids
    are right) and :meth:`summaries` reads only their states and values (the tell, which changes the
    latest generation only, thus reads the history's ~100 bytes of state and values per trial).
    """

    def __init__(self, backend: BytesJournalBackend, *, evaluations: bool = True,
                 deferred: tuple[int, int] = (0, 0), held: int = 0,
                 indexes: Sequence[tuple[int, int, list[bytes]]] = (),
                 indexed: Sequence[tuple[list[bytes], int]] = ()) -> None:
        super().__init__()
        self.backend = backend
        self._skip_evaluations = not evaluations
        self._unread: dict[int, bytes] = {}  # trial id → its folded line, whose user attributes were not read
        self._deferred: list[tuple[int, bytes]] = []  # (trial id, its line), not read yet
        self._worker_id = f"{uuid.uuid4()}-{threading.get_ident()}"
        self._times = _Times()
        self._dists: dict[str, BaseDistribution] = {}
        self._section = b""  # the last folded line's distributions (bytes), and them parsed (see _head)
        self._section_dists: dict[str, BaseDistribution] = {}
        self._known: dict[str, BaseDistribution] | None = None  # the parsed distributions the study has seen
        self._texts: dict[int, tuple[BaseDistribution, str]] = {}  # id → (distribution, its JSON text)
        self._finished: dict[int, list[TrialSummary]] = {}  # study id → summaries of its leading finished trials
        self._held = 0  # trials held (their lines not read: see _hold)
        # The deferred trials by told object, in order: how many, and that object's told index (None: none); see
        # told_index_line
        self._blocks: list[tuple[int, list[bytes] | None]] = []
        self._indexed: list[tuple[range, _Index]] = []  # told trials (ids) given by their told index alone, unmade
        self._lineless = False  # complete trials without their lines (made from told indexes alone): no evaluations
        start, stop = deferred
        lines = backend.lines()
        for line in lines[:start]:
            self._read_line(line)
        if held:
            self._hold(held)
        for docs, n in indexed:
            self._index_alone(docs, n)
        # The told objects' usual content: trials' creations (deferred, each run of them at once), and the study
        # attribute each ask sets (read now); told object by told object (``indexes``: where each one's lines are).
        bounds = sorted({start, stop, *(at for a, b, _ in indexes for at in (a, b) if start <= at <= stop)})
        index_at = {(a, b): docs for a, b, docs in indexes}
        run: list[bytes] = []
        for lo, hi in itertools.pairwise(bounds):
            before = len(self._deferred) + len(run)
            for line in lines[lo:hi]:
                if line.startswith(CREATE_PREFIX) and len(self._studies) == 1:
                    run.append(line)
                    continue
                if run:
                    self._defer_all(run)
                    run = []
                self._read_line(line)
            count = len(self._deferred) + len(run) - before
            if count:
                self._blocks.append((count, index_at.get((lo, hi))))
        if run:
            self._defer_all(run)
        self._read_untold(lines, max(start, stop))

    def _read_untold(self, lines: list[bytes], first: int) -> None:
        """Lines ``first`` … (the untold generation's: an asked object's operations), kept parsed for its fold: decoded
        as one JSON array (one call instead of one per line) when they are ordinary operations, each line one of them
        (else line by line, as ``_read_line`` reads any line)."""
        tail = lines[first:]
        ops = _decoded_array(tail) if len(tail) > 1 and not any(
            line.startswith(CREATE_PREFIX) and _USER_ATTRS in line for line in tail) else None
        if ops is None or len(ops) != len(tail):
            for index in range(first, len(lines)):
                self._read_line(lines[index], index)
            return
        for index, op in enumerate(ops, first):
            self._apply(op)  # reads the operation, never changes it
            self.backend.keep_parsed(index, op)

    def _index_alone(self, docs: list[bytes], n: int) -> None:
        """A told object given by its told index alone (``told_index_line``'s parts; holding ``n`` trials): its study
        operations applied, its trials' slots held (made by _read_deferred)."""
        indexes = self._indexes(docs, n)
        if indexes is None:
            raise ValueError("journal: a told index is not of the form told_index_line writes")
        texts = [op for index in indexes for op in index.ops]
        ops = _decode("[" + ",".join(texts) + "]")  # (one JSON array: each text one operation, checked below)
        if len(ops) != len(texts) or not all(type(op) is dict for op in ops):
            raise ValueError("journal: a told index's operations are not one operation each")
        for op in ops:  # (study attribute operations: none is about the trials, whose slots follow)
            self._apply(op)
        for index in indexes:
            self._indexed.append((self._slots(len(index.states)), index))
        self._lineless = True

    def _indexes(self, docs: list[bytes], n: int) -> list[_Index] | None:
        """The told indexes of ``docs`` (of the one study, ``n`` trials in all, their params their distributions'),
        or None when they are not."""
        checked = _Index.read_all(docs)
        if checked is None or len(self._studies) != 1 or any(i.study_id not in self._studies for i in checked):
            return None
        try:
            if sum(len(i.states) for i in checked) != n or \
                    any(len(i.params) != len(self._section_distributions(i.section)) for i in checked):
                return None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return checked

    @property
    def evaluations(self) -> bool:
        """Whether every trial holds its user attributes."""
        return not self._unread and not (self._deferred and self._skip_evaluations) and not self._lineless

    def read_evaluations(self) -> None:
        """Read the user attributes that were left unread."""
        with self._lock:
            if self._lineless:
                raise HistoryNotReadError("told trials were made from their told indexes alone: their lines not read")
            self._skip_evaluations = False
            self._read_deferred()
            for trial_id, line in self._unread.items():
                trial = copy.copy(self._get_trial(trial_id))
                trial.user_attrs = json.loads(line)["user_attrs"]
                self._set_trial(trial_id, trial)
            self._unread.clear()

    # ------------------------------------------------------------------------------------------ deferred

    def read_told(self) -> None:
        """Read the deferred trials now (all at once)."""
        with self._lock:
            self._read_deferred()

    @property
    def held(self) -> int:
        """How many trials are held: their slots only, their journal lines not read (``HistoryNotReadError`` when one is
        needed)."""
        return self._held

    def _hold(self, n: int) -> None:
        """Hold the slots of the next ``n`` trials (created by journal lines this storage is not given: the told
        objects a tell does not rewrite, ``storage._load``)."""
        if len(self._studies) != 1:
            raise ValueError("journal: held trials belong to the one study")
        self._slots(n)  # never filled: HistoryNotReadError instead
        self._held = n

    def _slots(self, n: int) -> range:
        """The ids of the next ``n`` trials of the one study, their slots held (ids and numbers, in order; the trials
        None until made)."""
        (study_id,) = self._studies
        info = self._studies[study_id]
        first_id, first_number = self._max_trial_id + 1, len(info.trials)
        ids = range(first_id, first_id + n)
        self._max_trial_id += n
        numbers = zip(repeat(study_id), range(first_number, first_number + n))
        self._trial_id_to_study_id_and_number.update(zip(ids, numbers, strict=True))
        info.trials.extend([None] * n)  # type: ignore[list-item]  # their slots
        return ids

    def _defer_all(self, lines: list[bytes]) -> None:
        """Hold the slots (ids and numbers, in order) of the trials these creations make, to read them later."""
        self._deferred.extend(zip(self._slots(len(lines)), lines, strict=True))  # (read by _read_deferred)

    def _read_deferred(self) -> None:
        if self._held:
            raise HistoryNotReadError(f"{self._held} trials told before were not read")
        if not self._deferred and not self._indexed:
            return
        deferred, self._deferred = self._deferred, []
        blocks, self._blocks = self._blocks, []
        indexed, self._indexed = self._indexed, []
        with collector_paused():
            for ids, index in indexed:
                self._read_indexed(index, ids, None)
            if not self._skip_evaluations or all(text is None for _, text in blocks):
                self._read_lines(deferred)
                return
            at = 0
            for count, docs in blocks:
                chunk = deferred[at:at + count]
                at += count
                indexes = None if docs is None else self._indexes(docs, count)
                if indexes is None:
                    self._read_lines(chunk)
                    continue
                for index in indexes:
                    part, chunk = chunk[:len(index.states)], chunk[len(index.states):]
                    self._read_indexed(index, [i for i, _ in part], [line for _, line in part])

    def _read_lines(self, deferred: list[tuple[int, bytes]]) -> None:
        """Deferred trials read from their lines: in one go when they are folded lines alike, else line by line."""
        if not self._read_folded_block(deferred):
            for trial_id, line in deferred:
                if not (self._read_folded(line, trial_id)):
                    op = json.loads(line)
                    if op.get("op_code") != CREATE_TRIAL or op.get("study_id") not in self._studies:
                        raise ValueError(f"journal: a told generation's line is not a trial's creation: "
                                         f"{line[:80]!r}")
                    self._create_trial(op, trial_id)

    def _know(self, info: _StudyInfo, dists: dict[str, BaseDistribution]) -> None:
        """The study's distributions include ``dists`` (the told trials' parsed section: once per section)."""
        if dists is not self._known:
            for name, dist in dists.items():
                info.param_distribution.setdefault(name, dist)
            self._known = dists

    def _read_indexed(self, index: _Index, ids: Sequence[int], lines: Sequence[bytes] | None) -> None:
        """Told trials (``ids``) made from a told index (``told_index_doc``; checked by ``_indexes``) instead of their
        lines' JSON, as ``_read_folded_block`` makes them without their evaluations (``lines``: theirs, for
        ``read_evaluations``; None: not given)."""
        dists = self._section_distributions(index.section)
        (study_id,) = self._studies
        info = self._studies[study_id]
        self._know(info, dists)
        names = list(dists)
        n = len(ids)
        externals = [_externals(dist, column) for dist, column in zip(dists.values(), index.params, strict=True)]
        params = _param_dicts(names, externals, n)
        local = self._times.locals
        first = self._trial_id_to_study_id_and_number[ids[0]][1] if n else 0  # (the ids and numbers are consecutive)
        unread = self._unread
        attrs = index.user_attrs
        trials = info.trials
        single = index.single
        # (the columns' lengths are checked: _indexes)
        for at, (trial_id, code, values, start, end, param, system_attrs) in enumerate(zip(  # noqa: B905
                ids, index.states, index.values, local(index.starts, index.zone), local(index.ends, index.zone), params,
                index.system_attrs)):
            if code == _COMPLETE:
                if lines is not None:
                    unread[trial_id] = lines[at]
                user_attrs = {}
            else:
                user_attrs = attrs[str(at)]
            if single:  # (FrozenTrial makes the list of one value itself: its value given, not a list to copy)
                trials[first + at] = FrozenTrial(first + at, _STATES[code], values, start, end, param, dict(dists),
                                                 user_attrs, system_attrs, {}, trial_id)
            else:
                trials[first + at] = FrozenTrial(first + at, _STATES[code], None, start, end, param, dict(dists),
                                                 user_attrs, system_attrs, {}, trial_id, values=values)

    def _read_folded_block(self, deferred: list[tuple[int, bytes]]) -> bool:
        """Told trials' folded lines read in one go: their heads (or whole lines, when the evaluations are wanted)
        decoded as one JSON array, the distributions once, the trials made as ``_read_folded`` makes them. False,
        having read nothing, when a line is not of the folded form of a finished trial of the one study, or the
        lines' distributions differ (each line is then read alone)."""
        lines = [line for _, line in deferred]
        section = _common_section(lines)
        if section is None or len(self._studies) != 1:
            return False
        heads = _heads(lines, section) if self._skip_evaluations else _decoded_array(
            [line.rstrip(b"\n") for line in lines])
        if heads is None:
            return False
        (study_id,) = self._studies
        wanted = _HEAD_KEYS - {"distributions"}  # the heads' distributions are the section's
        if not all(type(h) is dict and h.keys() >= wanted and h["state"] in FINISHED_STATES and
                   h["study_id"] == study_id for h in heads):
            return False
        dists = self._section_distributions(section)
        info = self._studies[study_id]
        self._know(info, dists)
        external = {name: dist.to_external_repr for name, dist in dists.items()}
        local = self._times.local
        numbers = self._trial_id_to_study_id_and_number
        for (trial_id, line), head in zip(deferred, heads, strict=True):
            state = _STATES[head["state"]]
            skip = self._skip_evaluations and state == TrialState.COMPLETE
            if skip:
                self._unread[trial_id] = line
                user_attrs = {}
            else:
                user_attrs = json.loads(line)["user_attrs"] if self._skip_evaluations else head["user_attrs"]
            number = numbers[trial_id][1]
            intermediate = head["intermediate_values"]
            info.trials[number] = FrozenTrial(
                number, state, head.get("value"), local(head["datetime_start"]), local(head.get("datetime_complete")),
                {k: external[k](p) for k, p in head["params"].items()}, dict(dists), user_attrs,
                head["system_attrs"], {int(k): v for k, v in intermediate.items()} if intermediate else {}, trial_id,
                values=head.get("values"))
        return True

    def _section_distributions(self, section: bytes) -> dict[str, BaseDistribution]:
        """The distributions of a folded line's distributions section (``,"distributions":{…}``), parsed once per
        run of equal sections."""
        if section != self._section:
            self._section_dists = {k: self._distribution(v) for k, v in _section_texts(section).items()}
            self._section = section
        return self._section_dists

    def summaries(self, study_id: int) -> list[TrialSummary]:
        """Every trial's number, state and values (a deferred trial's from its line's state and values)."""
        with self._lock:
            self._check_study_id(study_id)
            trials = self._studies[study_id].trials
            done = self._finished.setdefault(study_id, [])
            out = list(done)
            unread: dict[int, tuple[TrialState, list[float] | None]] | None = None
            for number in range(len(done), len(trials)):
                trial = trials[number]
                if trial is not None:
                    summary = TrialSummary(number, trial.state, trial.values)
                else:
                    if unread is None:
                        unread = self._deferred_states()
                    if unread is None:  # a line not of the folded form: read them all
                        self._read_deferred()
                        return self.summaries(study_id)
                    summary = TrialSummary(number, *unread[number])
                out.append(summary)
                if len(done) == number and summary.state.is_finished():
                    done.append(summary)  # a finished trial's state and values never change
            return out

    def _deferred_states(self) -> dict[int, tuple[TrialState, list[float] | None]] | None:
        """The deferred trials' states and values by trial number, the values of all decoded as one JSON array;
        None when a line is not of the folded form of a finished trial."""
        if self._held:
            raise HistoryNotReadError(f"{self._held} trials told before were not read")
        if self._indexed:
            return None
        states: list[tuple[int, TrialState]] = []
        texts: list[bytes] = []
        for trial_id, line in self._deferred:
            cut = line.find(_USER_ATTRS)
            found = _HEAD_END.search(line, 0, cut) if cut > 0 else None
            if found is None or int(found[1]) not in FINISHED_STATES:
                return None
            states.append((self._trial_id_to_study_id_and_number[trial_id][1], _STATES[int(found[1])]))
            texts.append(found[2] or b"null")
        values = _decode("[" + b",".join(texts).decode() + "]") if texts else []
        return {number: (state, v) for (number, state), v in zip(states, values, strict=True)}

    def _update_cache(self, trial_id: int, study_id: int) -> None:
        """Nothing: the best trial is found when asked for (get_best_trial), not kept up to date per trial."""

    def _get_trial(self, trial_id: int) -> FrozenTrial:
        trial = super()._get_trial(trial_id)
        if trial is None:
            self._read_deferred()
            trial = super()._get_trial(trial_id)
        return trial

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        with self._lock:
            self._read_deferred()
            return super().get_all_trials(study_id, deepcopy, states)

    def get_n_trials(self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None) -> int:
        if state is None:
            with self._lock:
                self._check_study_id(study_id)
                return len(self._studies[study_id].trials)
        return super().get_n_trials(study_id, state)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        with self._lock:
            info = self._studies.get(study_id)
            if info is not None and 0 <= trial_number < len(info.trials) and info.trials[trial_number] is None:
                self._read_deferred()
            return super().get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        """InMemoryStorage's best trial (the first complete trial with the best value, in trial order)."""
        with self._lock:
            self._check_study_id(study_id)
            self._read_deferred()
            info = self._studies[study_id]
            best: FrozenTrial | None = None
            for trial in info.trials:
                if trial.state != TrialState.COMPLETE:
                    continue
                if best is None or (trial.values[0] > best.values[0] if info.directions[0] == StudyDirection.MAXIMIZE
                                    else trial.values[0] < best.values[0]):
                    best = trial
            if best is None:
                raise ValueError("No trials are completed yet.")
            if len(info.directions) > 1:
                raise RuntimeError("Best trial can be obtained only for single-objective optimization.")
            return best

    # ------------------------------------------------------------------------------------------ reading

    def _read_line(self, line: bytes, index: int | None = None) -> None:
        """Apply a journal line (``index``: its place in the backend, which then keeps the parsed operation)."""
        if line.startswith(CREATE_PREFIX) and self._read_folded(line):
            return
        op = json.loads(line)
        self._apply(op)  # reads the operation, never changes it
        if index is not None:
            self.backend.keep_parsed(index, op)

    def _distribution(self, text: str) -> BaseDistribution:
        dist = self._dists.get(text)
        if dist is None:
            dist = self._dists[text] = json_to_distribution(text)
        return dist

    def _read_folded(self, line: bytes, slot: int | None = None) -> bool:
        """A folded create-trial line of a finished trial, its evaluation unread when not wanted; False when the
        line is not one (it is then applied as an ordinary operation)."""
        cut = line.find(_USER_ATTRS)
        if cut < 0:
            return False
        try:
            head, dists = self._head(line, cut)
        except ValueError:
            return False
        if not head.keys() >= _HEAD_KEYS or head["state"] not in FINISHED_STATES:
            return False
        skip = self._skip_evaluations and head["state"] == TrialState.COMPLETE
        head["user_attrs"] = {} if skip else json.loads(line)["user_attrs"]
        trial_id = self._create_trial(head, slot, dists)
        if skip:
            self._unread[trial_id] = line
        return True

    def _head(self, line: bytes, cut: int) -> tuple[dict[str, Any], dict[str, BaseDistribution] | None]:
        """A folded line's head (before ``user_attrs``), and its distributions when they are the bytes of the
        previous line's (parsed once: most of a head's JSON is its distributions' escaped JSON texts)."""
        start = line.find(_DISTRIBUTIONS, 0, cut)
        stop = line.find(_SYSTEM_ATTRS, start, cut) if start > 0 else -1
        # Params hold numbers only, and the distributions object ends before system_attrs: both ends are '}'.
        if stop < 0 or line[start - 1:start] != b"}" or line[stop - 1:stop] != b"}":
            return _decode(line[:cut].decode() + "}"), None
        dists = self._section_distributions(line[start:stop])
        head = _decode((line[:start] + line[stop:cut]).decode() + "}")
        head["distributions"] = None
        return head, dists

    def _apply(self, op: dict[str, Any]) -> None:
        """One journal operation of another writer, as Optuna's replay applies it (ignored where it ignores)."""
        code = op["op_code"]
        if code == CREATE_STUDY:
            if op["study_name"] not in self._study_name_to_id:
                # InMemoryStorage.create_new_study's bookkeeping, without its log line (one per read, else)
                study_id = self._max_study_id = self._max_study_id + 1
                self._studies[study_id] = _StudyInfo(op["study_name"], [StudyDirection(d) for d in op["directions"]])
                self._study_name_to_id[op["study_name"]] = study_id
                self._prev_waiting_trial_number[study_id] = 0
        elif code in (SET_STUDY_USER_ATTR, SET_STUDY_SYSTEM_ATTR):
            if op["study_id"] in self._studies:
                info = self._studies[op["study_id"]]
                if code == SET_STUDY_USER_ATTR:
                    info.user_attrs = {**info.user_attrs, **op["user_attr"]}
                else:
                    info.system_attrs = {**info.system_attrs, **op["system_attr"]}
        elif code == CREATE_TRIAL:
            if op["study_id"] in self._studies:
                self._create_trial(op)
        elif code in (SET_PARAM, SET_STATE, SET_INTERMEDIATE, SET_USER_ATTR, SET_SYSTEM_ATTR):
            trial_id = op["trial_id"]
            if trial_id in self._trial_id_to_study_id_and_number and not self._get_trial(trial_id).state.is_finished():
                self._update_trial(code, trial_id, op)
        else:
            raise ValueError(f"journal: operation {code} is not supported here")

    def _create_trial(self, op: dict[str, Any], slot: int | None = None,
                      parsed: dict[str, BaseDistribution] | None = None) -> int:
        """The trial an operation creates (in ``slot``: a deferred trial's id, its place held; ``parsed``: its
        distributions, parsed already)."""
        study_id = op["study_id"]
        info = self._studies[study_id]
        if parsed is None:
            dists = {k: self._distribution(v) for k, v in (op.get("distributions") or {}).items()}
            for name, dist in dists.items():
                info.param_distribution.setdefault(name, dist)
        else:
            dists = dict(parsed)
            if parsed is not self._known:
                for name, dist in dists.items():
                    info.param_distribution.setdefault(name, dist)
                self._known = parsed
        if slot is None:
            trial_id = self._max_trial_id + 1
            self._max_trial_id = trial_id
            number = len(info.trials)
        else:
            trial_id = slot
            held, number = self._trial_id_to_study_id_and_number[slot]
            if held != study_id:
                raise ValueError(f"journal: trial {slot} of study {held} is created in study {study_id}")
        state = _STATES[op.get("state", 0)]
        trial = FrozenTrial(
            trial_id=trial_id,
            number=number,
            state=state,
            params={k: dists[k].to_external_repr(p) for k, p in (op.get("params") or {}).items()},
            distributions=dists,
            user_attrs=op.get("user_attrs", {}),
            system_attrs=op.get("system_attrs", {}),
            value=op.get("value"),
            intermediate_values={int(k): v for k, v in op.get("intermediate_values", {}).items()},
            datetime_start=self._times.local(op["datetime_start"]),
            datetime_complete=self._times.local(op.get("datetime_complete")),
            values=op.get("values"),
        )
        self._trial_id_to_study_id_and_number[trial_id] = (study_id, number)
        if slot is None:
            info.trials.append(trial)
        else:
            info.trials[number] = trial
        return trial_id

    def _update_trial(self, code: int, trial_id: int, op: dict[str, Any]) -> None:
        trial = _copied(self._get_trial(trial_id))
        if code == SET_PARAM:
            name = op["param_name"]
            dist = op["distribution"]
            dist = self._distribution(dist) if isinstance(dist, str) else dist
            info = self._studies[self._trial_id_to_study_id_and_number[trial_id][0]]
            known = info.param_distribution.get(name)
            if known is None:
                info.param_distribution[name] = dist
            elif known is not dist:  # (the same object is compatible with itself: _distribution's, once per text)
                try:
                    check_distribution_compatibility(known, dist)
                except ValueError:
                    return  # Optuna's replay ignores it
            trial.params = {**trial.params, name: dist.to_external_repr(op["param_value_internal"])}
            trial.distributions = {**trial.distributions, name: dist}
        elif code == SET_STATE:
            state = TrialState(op["state"])
            if state == trial.state == TrialState.RUNNING:
                return
            if state == TrialState.RUNNING:
                trial.datetime_start = self._times.local(op["datetime_start"])
            if state.is_finished():
                trial.datetime_complete = self._times.local(op["datetime_complete"])
            trial.state = state
            if op["values"] is not None:
                trial.values = op["values"]
        elif code == SET_INTERMEDIATE:
            trial.intermediate_values = {**trial.intermediate_values, op["step"]: op["intermediate_value"]}
        elif code == SET_USER_ATTR:
            trial.user_attrs = {**trial.user_attrs, **op["user_attr"]}
        else:
            trial.system_attrs = {**trial.system_attrs, **op["system_attr"]}
        self._set_trial(trial_id, trial)

    # ------------------------------------------------------------------------------------------ writing

    def _write(self, op_code: int, fields: dict[str, Any], nodes: int = _NATIVE_NODES) -> dict[str, Any]:
        """Append the operation's journal line; the operation as the journal's replay reads it back (``nodes``: how
        many values a copy may look at before parsing the line back is cheaper; see _native)."""
        entry = {"op_code": op_code, "worker_id": self._worker_id, **fields}
        line = journal_line(entry)
        # Small and of JSON's own types: the line reads back as a copy of the entry (same keys in the same order,
        # equal values), made without parsing the line back: the entry itself (it is made here, and its scalars
        # cannot change) holding copies of its other values (an attribute's dict, the values' list). A line holding
        # a NaN is parsed back: the parser gives its one NaN object, which equals itself where a NaN is compared.
        copied: Any = _NOT_NATIVE
        if nodes and b"NaN" not in line:
            copied = entry
            budget = [nodes]
            for key, value in fields.items():
                if type(value) not in _SCALAR_TYPES:
                    native = _native(value, budget)
                    if native is _NOT_NATIVE:
                        copied = _NOT_NATIVE
                        break
                    entry[key] = native
        op: dict[str, Any] = json.loads(line) if copied is _NOT_NATIVE else copied
        self.backend.append_line(line, op)  # kept for the fold: not to be mutated (callers copy before changing)
        return op

    def _distribution_text(self, distribution: BaseDistribution) -> str:
        """``distribution_to_json``, once per distribution object (a sampler passes the same ones for every trial;
        the object is kept, so its id is not reused)."""
        known = self._texts.get(id(distribution))
        if known is None or known[0] is not distribution:
            known = self._texts[id(distribution)] = (distribution, distribution_to_json(distribution))
        return known[1]

    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        with self._lock:
            study_id = super().create_new_study(directions, study_name)  # refuses a name held already
            name = self._studies[study_id].name
            self._write(CREATE_STUDY, {"study_name": name, "directions": list(directions)})
            return study_id

    def delete_study(self, study_id: int) -> None:
        raise NotImplementedError("a study's journal in the store is never deleted from")

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._check_study_id(study_id)
            self._apply(self._write(SET_STUDY_USER_ATTR, {"study_id": study_id, "user_attr": {key: value}}))

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._check_study_id(study_id)
            self._apply(self._write(SET_STUDY_SYSTEM_ATTR, {"study_id": study_id, "system_attr": {key: value}}))

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        with self._lock:
            self._check_study_id(study_id)
            now = datetime.now(tz=UTC).isoformat(timespec="microseconds")
            log: dict[str, Any] = {"study_id": study_id, "datetime_start": now}
            if template_trial is not None:
                log.update(_template_fields(template_trial))
            return self._create_trial(self._write(CREATE_TRIAL, log))

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        with self._lock:
            trial = self._get_trial(trial_id)
            self.check_trial_is_updatable(trial_id, trial.state)
            info = self._studies[self._trial_id_to_study_id_and_number[trial_id][0]]
            known = info.param_distribution.get(param_name)
            if known is not None and known is not distribution:  # (the same object is compatible with itself)
                check_distribution_compatibility(known, distribution)
            op = self._write(SET_PARAM, {"trial_id": trial_id, "param_name": param_name,
                                          "param_value_internal": param_value_internal,
                                          "distribution": self._distribution_text(distribution)})
            op = {**op, "distribution": distribution}  # equal to the one its JSON gives
            self._update_trial(SET_PARAM, trial_id, op)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        with self._lock:
            trial = self._get_trial(trial_id)
            self.check_trial_is_updatable(trial_id, trial.state)
            if state == TrialState.RUNNING and trial.state != TrialState.WAITING:
                return False
            log: dict[str, Any] = {"trial_id": trial_id, "state": int(state), "values": values}
            now = datetime.now(tz=UTC).isoformat(timespec="microseconds")
            if state == TrialState.RUNNING:
                log["datetime_start"] = now
            elif state.is_finished():
                log["datetime_complete"] = now
            self._update_trial(SET_STATE, trial_id, self._write(SET_STATE, log))
            return True

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            op = self._write(SET_INTERMEDIATE, {"trial_id": trial_id, "step": step,
                                                 "intermediate_value": intermediate_value})
            op = {**op, "step": step}  # the journal's replay keeps the step as given (an int)
            self._update_trial(SET_INTERMEDIATE, trial_id, op)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            # (a tell's evaluation: ~35 values, copied in ~4 us where parsing its line back takes ~10)
            op = self._write(SET_USER_ATTR, {"trial_id": trial_id, "user_attr": {key: value}}, _ATTR_NODES)
            self._update_trial(SET_USER_ATTR, trial_id, op)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self.check_trial_is_updatable(trial_id, self._get_trial(trial_id).state)
            self._update_trial(SET_SYSTEM_ATTR, trial_id,
                               self._write(SET_SYSTEM_ATTR, {"trial_id": trial_id, "system_attr": {key: value}}))


def _copied(trial: FrozenTrial) -> FrozenTrial:
    """``copy.copy(trial)`` (a new trial holding the same attribute values), without ``copy``'s generic protocol
    (``__reduce_ex__``, ``copyreg``): a tell updates each of its trials several times."""
    new: FrozenTrial = object.__new__(FrozenTrial)
    new.__dict__.update(trial.__dict__)
    return new


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_STR = frozenset({str})
_NOT_NATIVE = object()


def _native(value: Any, budget: list[int]) -> Any:
    """A copy of ``value`` when it is made of JSON's own types only (exactly: no subclass, such as an enum or a numpy
    scalar; no tuple; string keys), at most ``budget[0]`` values: then it equals ``json.loads(json.dumps(value))``
    (NaN aside); else ``_NOT_NATIVE``."""
    budget[0] -= 1
    if budget[0] < 0:
        return _NOT_NATIVE
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        if _SCALAR_TYPES.issuperset(map(type, value)):  # (values' lists: scalars alone, copied in one go)
            budget[0] -= len(value)
            return list(value) if budget[0] >= 0 else _NOT_NATIVE
        items = [_native(v, budget) for v in value]
        return _NOT_NATIVE if any(v is _NOT_NATIVE for v in items) else items
    if kind is dict:
        if _STR.issuperset(map(type, value)) and _SCALAR_TYPES.issuperset(map(type, value.values())):
            budget[0] -= len(value)  # (attributes: string keys to scalars, copied in one go)
            return dict(value) if budget[0] >= 0 else _NOT_NATIVE
        out = {}
        for k, v in value.items():
            copied = _native(v, budget)
            if type(k) is not str or copied is _NOT_NATIVE:
                return _NOT_NATIVE
            out[k] = copied
        return out
    return _NOT_NATIVE


def _template_fields(template: FrozenTrial) -> dict[str, Any]:
    """A template trial's fields in a create-trial operation (as ``JournalStorage.create_new_trial`` writes them)."""
    log: dict[str, Any] = {"state": template.state}
    if template.values is not None and len(template.values) > 1:
        log["value"] = None
        log["values"] = template.values
    else:
        log["value"] = template.value
        log["values"] = None
    if template.datetime_start:
        log["datetime_start"] = template.datetime_start.astimezone(UTC).isoformat(timespec="microseconds")
    else:
        log["datetime_start"] = None
    if template.datetime_complete:
        log["datetime_complete"] = template.datetime_complete.astimezone(UTC).isoformat(
            timespec="microseconds")
    log["distributions"] = {k: distribution_to_json(d) for k, d in template.distributions.items()}
    log["params"] = {k: template.distributions[k].to_internal_repr(p) for k, p in template.params.items()}
    log["user_attrs"] = template.user_attrs
    log["system_attrs"] = template.system_attrs
    log["intermediate_values"] = template.intermediate_values
    return log
