"""Where a study's Optuna storage lives.

Generation mode keeps the storage **in the artifact store**, so pods share nothing but the store.
A coordinator step opens it with :func:`stored_storage`: read (verified), act, write what
it added. Only the coordinator steps (init, ask, tell, finalize, verify) do this, one at a time.

**Journal** (default): an ordinary Optuna journal, kept in the store as objects that are each
written once, complete-or-absent, and never rewritten once complete. Each is *sealed*: one put
(atomic in every backend: a local temporary file renamed, an S3 PUT) of the journal lines followed
by a last line ``#trading-runtime journal sha256=<hex of the lines>``, which the reader checks and
drops; no marker object (``store/sealed.py``, which the generations' plans use as well):

```
storage/journal.v2.log                the base: the study's creation (init)
storage/journal/g<gggg>.asked.v2.log  generation g's ask: its operations since the last told object
storage/journal/g<gggg>.told.v2.log   generation g told: the folded trials of generations
                                      g+1-lowbit(g+1) … g (one line per trial, compact_journal)
```

A told object's last line before its seal is its told index (``#trading-runtime told-index sha256=<hex> …``:
``journal_storage.told_index_line``, the told trials' states, values, times and params in columns, one part per
told generation, checked by its own sha256), which readers take off: it is not a journal line. An ask reads the
told objects' indexes alone (``_told_indexes_alone``: not their lines, nor their seals), and makes the told trials
from them; the lines stay for the readers of evaluations (finalize, verify) and for the tells' folds, which merge
the indexes' parts with the objects they merge. Objects without an index (an earlier version's) are read whole.

(Earlier versions wrote the same objects without the ``.v2`` and the seal, each completed by a
``.SUCCESS`` marker (``write_complete``); they are read as well, object by object, so a study goes
on where an earlier version left it.)

The journal is the base, then the told objects that tile the told generations (a binary counter:
after T told generations, one object per set bit of T, largest first, found from T alone), then
the first untold generation's asked object if there is one. T is found from which told objects
exist, bit by bit from the top (log2 of the generations probes; readers never list). A step
thus writes one object of its own (a cluster ask: the asked operations; a tell: a told object)
instead of rewriting the whole journal, and a reader reads O(log T) objects. A kill at any write
leaves the previous state readable: every object is new, and complete once it exists.

The journal is kept in memory while a step runs (no file locks, no fsync per operation), read into
Optuna's in-memory storage (``optimize/journal_storage.py``: the ask reads the told trials without their
evaluations, all of them in one go; the tell reads none of them: of the told objects only those its
fold rewrites, the others' trials held by number, and the ask carries in a study attribute what the
tell needs of them, ``generation.TOLD_BEFORE_ATTR``). Within
one process the opened storage is reused by the next step while the store still holds what it
knows (the same told count, last told object and asked object); anything else is read again. The
local all-in-one's in-memory steps store less (see :func:`stored_storage`).

**SQLite**: one file, read and rewritten whole by each step (``write_complete``).

The storage holds Optuna's own wall-clock times (``datetime_start``/``datetime_complete``): they
never reach a result document. Async mode opens a shared storage by URL (:func:`open_url_storage`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from trading_runtime.errors import InputError, TransientError
from trading_runtime.optimize.journal import BytesJournalBackend
from trading_runtime.optimize.journal_storage import (
    TOLD_INDEX,
    JournalMemoryStorage,
    checked_told_index,
    collector_paused,
    told_index_doc,
    told_index_line,
)
from trading_runtime.optimize.keys import generation_label
from trading_runtime.redaction import redact
from trading_runtime.store import (
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    CorruptArtifactError,
    marker_key,
    read_complete,
    write_complete,
)
from trading_runtime.store.sealed import sealed_key, unseal, write_sealed

__all__ = [
    "CHECKPOINT_GENERATIONS", "BytesJournalBackend", "StorageFormat", "StorageLocation", "flush_storage",
    "forget_cached_storages", "open_url_storage", "stored_journal", "stored_storage",
]

log = logging.getLogger(__name__)

StorageFormat = Literal["journal", "sqlite"]
Step = Literal["asked", "asked-in-memory", "told", "told-in-memory"]
# The all-in-one's in-memory tells store their told objects every this many generations (a power of 2:
# they are then whole blocks; see stored_storage). A kill loses at most this many generations' asks and tells,
# which the next run gives back identically from the plans and shard results (no backtest runs again).
CHECKPOINT_GENERATIONS = 8


@dataclass(frozen=True)
class StorageLocation:
    """Where a study's storage is, and the generations its journal is kept in."""

    storage_format: StorageFormat
    key: str  # the storage object (journal: its base)
    batch_size: int
    n_generations: int

    def segment(self, step: Step, g: int) -> str:
        """The key of generation ``g``'s asked or told journal object."""
        return f"{self.key.rsplit('/', 1)[0]}/journal/g{generation_label(g)}.{step}.log"
_SCHEMA_ATTEMPTS = 5


def _lowbit(n: int) -> int:
    return n & -n


@dataclass
class _Open:
    """An opened journal: the storage, its lines, and where its generations' objects start and end."""

    storage: JournalMemoryStorage
    backend: BytesJournalBackend
    g0: int  # first generation kept in objects (0; more when the base holds told generations)
    told: int  # generations told after the base (T), in this open storage
    starts: dict[int, int]  # line where generation g0+r starts, for r = 0, every block boundary and every tell
    shas: dict[str, str]  # state (_stored_state) of the objects this journal holds, by key (base, told, asked)
    stored: int = 0  # generations told in stored objects (T_s <= T; less after in-memory tells)
    asked: bool = False  # the asked object of generation g0+T is held (its lines end the journal)
    pending_ask: bool = False  # generation g0+T was asked in memory only (its lines end the journal)
    held: bool = False  # told objects were left unread (a tell's step; see _load): never kept for another step
    # Told indexes (told_index_doc) of told generations g0+r … g0+e-1 by r: (e, their parts), for the told objects'
    # index lines (_store_told); from the told objects read and the generations folded here
    parts: dict[int, tuple[int, list[bytes]]] = dataclasses.field(default_factory=dict)

    @property
    def pending(self) -> bool:
        """Whether this open storage holds more than the store (in-memory steps not stored yet)."""
        return self.pending_ask or self.stored < self.told

    def frontier_ok(self, store: ArtifactStore, loc: StorageLocation) -> bool:
        """Whether the store still holds the state this journal was read as or last stored: the same told
        count (the reader's probes), the same last told object, and the asked object as known."""
        g = self.g0 + self.stored
        last = loc.segment("told", g - 1) if self.stored else loc.key
        if _stored_state(store, last) != self.shas[last] or _probe_told(store, loc, self.g0) != self.stored:
            return False
        if self.stored < self.told or g >= loc.n_generations:
            return True  # a generation told in memory: its asked object no longer counts
        asked = loc.segment("asked", g)
        return _stored_state(store, asked) == (self.shas[asked] if self.asked else None)


_CACHE: dict[tuple[str, str], _Open] = {}


def forget_cached_storages() -> None:
    _CACHE.clear()


def _stored_sha256(store: ArtifactStore, key: str) -> str | None:
    try:
        marker = json.loads(store.get_bytes(marker_key(key)))
    except ArtifactNotFoundError:
        return None
    except ValueError:
        return ""  # unreadable marker: read_complete will say why
    return str(marker.get("sha256", "")) if isinstance(marker, dict) else ""


SEALED = "sealed"  # the state of a sealed object (see _stored_state)


def _unsealed(store: ArtifactStore, key: str, raw: bytes) -> tuple[bytes, str]:
    """A sealed object's journal lines and their sha256, checked against its seal."""
    try:
        return unseal(store.uri, sealed_key(key), raw)
    except CorruptArtifactError as e:
        raise CorruptArtifactError(e.uri, e.key, f"{e.problem} (the study's storage)") from None


def _stored_state(store: ArtifactStore, key: str) -> str | None:
    """Whether the journal object ``key`` is complete in the store: ``SEALED``, its marker's sha256 (an object of an
    earlier version), or None (absent, or an earlier version's payload without its marker)."""
    if store.exists(sealed_key(key)):
        return SEALED
    return _stored_sha256(store, key)


def _read(store: ArtifactStore, key: str) -> bytes:
    try:
        return read_complete(store, key)
    except CorruptArtifactError as e:
        raise CorruptArtifactError(e.uri, e.key, f"{e.problem} (the study's storage)") from None


@contextlib.contextmanager
def stored_storage(store: ArtifactStore, loc: StorageLocation, *, create: bool = False, write: bool = True,
                   step: Step | None = None, evaluations: bool = True,
                   history: bool = True) -> Iterator[BaseStorage]:
    """The study storage at ``loc``; what the step added is written on a clean exit (when ``write``).

    ``evaluations=False``: the complete trials read from told objects have no user attributes (their
    evaluations are not parsed: ``optimize/journal_storage.py``), for the steps that do not read them.
    ``history=False``: the told generations' trials are read only when one is asked for (their states
    and values are read alone by ``JournalMemoryStorage.summaries``), for the tell. Either way they are
    read in one go (``JournalMemoryStorage``: one JSON array for all their lines). A ``"told"`` step's
    storage with ``history=False`` does not even read the told objects its fold does not rewrite: their
    trials are held, and reaching one raises ``HistoryNotReadError`` (the step is then to run again with
    ``history=True``); such a storage is not kept for the next step.

    ``step``: what a journal step writes: ``"asked"`` (the asked object of the first untold
    generation) or ``"told"`` (its told object, the generation's operations folded); neither:
    only the base, when created.

    The in-memory steps (the local all-in-one, which asks and tells in one process) store less:
    ``"asked-in-memory"`` nothing (the asked trials stay in this process's open storage for the
    tell that follows), ``"told-in-memory"`` the told objects only every
    :data:`CHECKPOINT_GENERATIONS` generations; :func:`flush_storage` stores the rest. A kill in
    between loses nothing that the steps do not give back identically when run again: what a
    generation asks depends only on the seed, the generation and the trials told before, and the
    values told come from the generation's shard results, which are stored. Only in-memory steps
    reuse such an open storage; any other step reads the store.
    """
    if loc.storage_format == "journal":
        reading = _Reading(evaluations, history, alone=step == "asked" and history and not evaluations)
        with _journal(store, loc, create, write, step, reading) as storage:
            yield storage
    else:
        with _sqlite(store, loc.key, create, write) as storage:
            yield storage


def flush_storage(store: ArtifactStore, loc: StorageLocation) -> None:
    """Store the told generations that in-memory steps of this process kept (a no-op when none)."""
    cache_key = (store.uri, loc.key)
    opened = _CACHE.pop(cache_key, None)
    if opened is None or not opened.frontier_ok(store, loc):
        return  # nothing kept, or the store changed under it: what was kept is given back by the steps
    _store_told(store, loc, opened)
    if not opened.pending_ask:  # an ask in memory (an interrupted run) is dropped: the next run asks again
        _CACHE[cache_key] = opened


def stored_journal(store: ArtifactStore, loc: StorageLocation) -> bytes:
    """The stored journal as one Optuna journal file (the base, then its generations' objects)."""
    opened = _load(store, loc)
    if opened is None:
        raise ArtifactMissingError(store.uri, loc.key)
    return opened.backend.dump()


def _sealed(store: ArtifactStore, key: str) -> bytes | None:
    """The sealed object of the journal object ``key`` as stored (its seal not checked yet); None when there is none."""
    try:
        return store.get_bytes(sealed_key(key))
    except ArtifactNotFoundError:
        return None


def _fetched(store: ArtifactStore, key: str) -> tuple[bytes | None, str | None]:
    """``_stored_state`` of the journal object ``key`` with one request instead of two when it is sealed: its sealed
    object as read (``_sealed``) and its state."""
    raw = _sealed(store, key)
    return raw, SEALED if raw is not None else _stored_sha256(store, key)


def _read_object(store: ArtifactStore, key: str, raw: bytes | None) -> tuple[bytes, str, list[bytes] | None]:
    """A journal object's lines, its state in the store (``_stored_state``), sealed or as an earlier version
    wrote it (marker-verified: hashed once), and its told index's parts (``told_index_line``; None when it has none),
    the index line taken off its lines (``raw``: its sealed object as read, ``_sealed``: None when it has none)."""
    if raw is None:
        data = _read(store, key)
        state = _stored_sha256(store, key) or hashlib.sha256(data).hexdigest()
    else:
        data, state = _unsealed(store, key, raw)[0], SEALED
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    if not data.startswith(TOLD_INDEX, cut):
        return data, state, None
    return data[:cut], state, checked_told_index(data[cut:])


def _probe_told(store: ArtifactStore, loc: StorageLocation, g0: int, read: dict[str, bytes] | None = None) -> int:
    """T, the told generations after the base, from the told objects' markers: the largest T whose blocks
    (one per set bit, largest first) all exist, found bit by bit from the top (log2 of the generations).

    ``read``: the probes read the sealed objects instead (one request each, not two: every one found is one of T's
    blocks, which the reader reads), kept there by key."""
    n = loc.n_generations - g0
    done = 0
    for bit in reversed(range(n.bit_length())):
        c = done + (1 << bit)
        if c > n:
            continue
        key = loc.segment("told", g0 + c - 1)
        if read is None:
            found = _stored_state(store, key) is not None
        else:
            raw, state = _fetched(store, key)
            if raw is not None:
                read[key] = raw
            found = state is not None
        if found:
            done = c
    return done


@dataclass(frozen=True)
class _Reading:
    """What a step reads of the told trials (see :func:`stored_storage`)."""

    evaluations: bool = True
    history: bool = True
    alone: bool = False  # the told trials made from the told objects' indexes alone (an ask: see _told_indexes_alone)


def _load(store: ArtifactStore, loc: StorageLocation, reading: _Reading = _Reading(),
          hold: bool = False) -> _Open | None:
    """The stored journal read from its objects (None: no base).

    ``hold`` (a tell's step, with ``history=False``): when the first untold generation is asked, the told objects
    that telling it does not rewrite (every block but those its fold merges: the blocks of T's trailing one bits) are
    not read at all: their generations' trials are held (numbers and ids; ``JournalMemoryStorage(held=…)``)."""
    raw, state = _fetched(store, loc.key)
    if state is None:
        return None
    data, sha, _ = _read_object(store, loc.key, raw)
    backend = BytesJournalBackend(data)
    shas = {loc.key: sha}
    in_base = backend.count_trials()
    g0 = min(-(-in_base // loc.batch_size), loc.n_generations)
    found: dict[str, bytes] | None = {} if reading.alone else None  # the sealed told objects the probes read
    told = _probe_told(store, loc, g0, found)
    asked_key = loc.segment("asked", g0 + told) if g0 + told < loc.n_generations else None
    asked_raw, asked_state = _fetched(store, asked_key) if asked_key is not None else (None, None)
    # Blocks of 2**bit generations from here up are held (below: merged by the next fold); held only when they are
    # whole generations before an asked one, and the base holds no trials (an earlier version's whole journal).
    merged = _lowbit(told + 1) if hold and asked_state is not None and not in_base else 1 << told.bit_length()
    starts = {0: len(backend)}
    held = done = 0
    indexes: list[tuple[int, int, list[bytes]]] = []  # (first line, end, told index) of the told objects read
    parts: dict[int, tuple[int, list[bytes]]] = {}
    blocks = [(1 << bit, loc.segment("told", g0 + (told >> bit << bit) - 1))
              for bit in reversed(range(told.bit_length())) if told >> bit & 1]  # (generations, key), in order
    # From the indexes alone when every told generation is whole (one is left to ask): each told object then holds
    # its generations' batch_size trials each, which its index must hold.
    alone = _told_indexes_alone(found, [key for _, key in blocks]) \
        if found is not None and not in_base and g0 + told < loc.n_generations else None
    for size, key in blocks:
        done += size
        if alone is not None:
            shas[key] = SEALED
        elif size >= merged:
            state = _stored_state(store, key)
            assert state is not None  # found by _probe_told
            shas[key] = state
            held += size * loc.batch_size
        else:
            raw = found.get(key) if found is not None else _sealed(store, key)
            data, shas[key], index = _read_object(store, key, raw)
            first = len(backend)
            backend.extend(data)
            if index is not None:
                indexes.append((first, len(backend), index))
                parts[done - size] = (done, index)
        starts[done] = len(backend)
    asked = False
    if asked_key is not None and asked_state is not None:
        data, shas[asked_key], _ = _read_object(store, asked_key, asked_raw)
        backend.extend(data)
        asked = True
    deferred = (starts[0], starts[told])  # the told generations' trials: read in one go (now, with history)
    if alone is not None:
        try:
            with collector_paused():  # the indexes' JSON and the trials made of it (see collector_paused)
                storage = JournalMemoryStorage(backend, evaluations=False, deferred=deferred, indexed=[
                    (docs, size * loc.batch_size) for docs, (size, _) in zip(alone, blocks, strict=True)])
                storage.read_told()
        except (ValueError, KeyError, TypeError):  # an index not of told_index_doc's form: the objects are read whole
            return _load(store, loc, dataclasses.replace(reading, alone=False), hold)
        backend.changed = False
        return _Open(storage, backend, g0, told, starts, shas, told, asked, held=True)  # never kept: no told lines
    opened = _Open(_open_journal(store, loc, backend, reading, deferred, held, indexes), backend, g0, told, starts,
                   shas, told, asked, held=held > 0, parts=parts)
    backend.changed = False
    if in_base:
        _refuse_untold_base(store, loc, opened, in_base)
    return opened


def _told_indexes_alone(read: dict[str, bytes], keys: list[str]) -> list[list[bytes]] | None:
    """The told indexes of the told objects ``keys`` (``told_index_line``'s parts), each checked by its own sha256,
    from their sealed objects as read (``read``, by key: ``_probe_told``) without their lines' seal: their lines are
    neither hashed nor split (an ask's read: the told trials are made from the indexes alone). None when an object has
    none (written by an earlier version, or of lines an index does not cover) or its index is not what its sha256 says:
    the objects are then read whole (and their seals checked)."""
    texts = []
    for key in keys:
        raw = read.get(key)
        if raw is None:
            return None  # an earlier version's object with its marker
        seal = raw.rfind(b"\n", 0, len(raw) - 1) + 1
        text = checked_told_index(raw[raw.rfind(b"\n", 0, seal - 1) + 1:seal]) if seal > 0 else None
        if text is None:
            return None
        texts.append(text)
    return texts


def _open_journal(store: ArtifactStore, loc: StorageLocation, backend: BytesJournalBackend, reading: _Reading,
                  deferred: tuple[int, int], held: int = 0,
                  indexes: list[tuple[int, int, list[bytes]]] | None = None) -> JournalMemoryStorage:
    try:
        storage = JournalMemoryStorage(backend, evaluations=reading.evaluations, deferred=deferred, held=held,
                                       indexes=indexes or ())
        if reading.history:
            storage.read_told()
        return storage
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{store.uri}: {loc.key}: the study's journal cannot be read ({type(e).__name__}: {e}); "
                         "was it written by another tool?") from None


def _refuse_untold_base(store: ArtifactStore, loc: StorageLocation, opened: _Open, in_base: int) -> None:
    """A base holding trials (a journal written whole by an earlier version) must hold told generations only."""
    sid = opened.storage.get_all_studies()
    trials = opened.storage.get_all_trials(sid[0]._study_id, deepcopy=False) if sid else []
    if any(not t.state.is_finished() for t in trials[:in_base]):
        raise InputError(f"{store.uri}: {loc.key}: the journal (written whole by an earlier version) holds a "
                         "generation asked but not told: tell it with that version, or remove the study")


_IN_MEMORY: frozenset[Step | None] = frozenset({"asked-in-memory", "told-in-memory"})


@contextlib.contextmanager
def _journal(store: ArtifactStore, loc: StorageLocation, create: bool, write: bool,
             step: Step | None, reading: _Reading) -> Iterator[BaseStorage]:
    cache_key = (store.uri, loc.key)
    cached = _CACHE.pop(cache_key, None)
    if cached is not None and cached.pending and step not in _IN_MEMORY:
        # In-memory steps not stored yet: this step reads the store, and the open storage stays for them.
        _CACHE[cache_key] = cached
        with _step(store, loc, None, create, write, step, reading) as storage:
            yield storage
        return
    with _step(store, loc, cached, create, write, step, reading) as storage:
        yield storage


@contextlib.contextmanager
def _step(store: ArtifactStore, loc: StorageLocation, cached: _Open | None, create: bool, write: bool,
          step: Step | None, reading: _Reading) -> Iterator[BaseStorage]:
    """One step on the journal (``cached``: this process's open storage, used when the store still holds
    what it knows); the open storage is kept for the next step unless another one is kept already."""
    cache_key = (store.uri, loc.key)
    opened = cached if cached is not None and cached.frontier_ok(store, loc) else \
        _load(store, loc, reading, hold=step == "told" and not reading.history)
    if opened is None:
        if not create:
            raise ArtifactMissingError(store.uri, loc.key)
        backend = BytesJournalBackend()
        opened = _Open(JournalMemoryStorage(backend), backend, 0, 0, {}, {})
    opened.backend.changed = False
    if reading.evaluations and not opened.storage.evaluations:
        opened.storage.read_evaluations()
    try:
        yield opened.storage
    except BaseException:
        # The half-changed storage is dropped; generations told in memory before this step are whole (the
        # step only appended after them): store them, so that the next run need not tell them again.
        if write and opened.stored < opened.told:
            with contextlib.suppress(Exception):
                _store_told(store, loc, opened)
        raise
    if not write:
        if not opened.backend.changed and not opened.held:
            _CACHE.setdefault(cache_key, opened)
        return
    if loc.key not in opened.shas:  # a new study: the base
        _put(store, opened, loc.key, opened.backend.dump())
        opened.starts = {0: len(opened.backend)}
    elif step == "asked" and opened.backend.changed:
        key = loc.segment("asked", opened.g0 + opened.told)
        _put(store, opened, key, opened.backend.dump(opened.starts[opened.told]))
        opened.asked = True
    elif step == "asked-in-memory" and opened.backend.changed:
        opened.pending_ask = True
    elif step in ("told", "told-in-memory") and (opened.asked or opened.pending_ask or opened.backend.changed):
        _fold_told(loc, opened)
        if step == "told" or opened.told % CHECKPOINT_GENERATIONS == 0:
            _store_told(store, loc, opened)
    elif opened.backend.changed:
        raise AssertionError(f"study storage {loc.key}: a {step or 'read'} step changed the journal")
    opened.backend.changed = False
    if not opened.held:
        _CACHE.setdefault(cache_key, opened)


def _fold_told(loc: StorageLocation, opened: _Open) -> None:
    """Generation g0+T is told: fold its operations (one line per trial; the open storage's state is what the
    folded lines give), T += 1."""
    r = opened.told
    opened.backend.compact((opened.g0 + r) * loc.batch_size, opened.starts[r])
    opened.told = r + 1
    opened.starts[r + 1] = len(opened.backend)
    doc = told_index_doc(opened.backend.lines()[opened.starts[r]:])
    if doc is not None:
        opened.parts[r] = (r + 1, [doc])
    opened.asked = opened.pending_ask = False


def _store_told(store: ArtifactStore, loc: StorageLocation, opened: _Open) -> None:
    """Store the told objects of T's blocks not stored yet (the block ending at generation g0+e covers
    g0+e+1-lowbit(e+1) … g0+e), so that a reader finds T."""
    done = 0
    for bit in reversed(range(opened.told.bit_length())):
        if opened.told >> bit & 1:
            done += 1 << bit
            key = loc.segment("told", opened.g0 + done - 1)
            if key not in opened.shas:
                first = done - (1 << bit)
                lines = opened.backend.lines()[opened.starts[first]:opened.starts[done]]
                docs = _index_parts(opened, first, done)
                if docs is None:  # (generations read from objects without an index)
                    doc = told_index_doc(lines)
                    docs = None if doc is None else [doc]
                _put(store, opened, key, b"".join(lines) + (b"" if docs is None else told_index_line(docs)))
                if docs is not None:
                    opened.parts[first] = (done, docs)
    opened.stored = opened.told


def _index_parts(opened: _Open, r: int, e: int) -> list[bytes] | None:
    """The told indexes' parts of told generations g0+r … g0+e-1, from those known (``_Open.parts``); None when one
    is not known."""
    docs: list[bytes] = []
    while r < e:
        end, more = opened.parts.get(r, (e + 1, []))
        if end > e:
            return None
        docs += more
        r = end
    return docs


def _put(store: ArtifactStore, opened: _Open, key: str, payload: bytes) -> None:
    """Write a journal object, sealed: one put, complete once it exists (the module docstring)."""
    write_sealed(store, key, payload, "journal")
    opened.shas[key] = SEALED


@contextlib.contextmanager
def _sqlite(store: ArtifactStore, key: str, create: bool, write: bool) -> Iterator[BaseStorage]:
    sha = _stored_sha256(store, key)
    if sha is None and not create:
        raise ArtifactMissingError(store.uri, key)
    original = _read(store, key) if sha is not None else b""
    with tempfile.TemporaryDirectory(prefix="trading-runtime-study-") as tmp:
        path = Path(tmp) / "study.sqlite3"
        if original:
            path.write_bytes(original)
        storage = RDBStorage(f"sqlite:///{path}")
        try:
            yield storage
        finally:
            storage.engine.dispose()
        payload = path.read_bytes()
        if write and payload != original:
            write_complete(store, key, payload)


def open_url_storage(url: str, base_dir: Path) -> BaseStorage:
    """A shared storage for async workers.

    ``postgresql://user@host:port/db`` (any SQLAlchemy URL Optuna's RDB storage takes:
    ``sqlite:///path``, ``mysql://``…) or ``journal:PATH`` (``journal:///abs/file.log``,
    ``journal:relative.log``: an Optuna journal file, with file locks, on a filesystem every
    worker sees).
    """
    if url.startswith("journal:"):
        rest = url[len("journal:"):]
        rest = rest[2:] if rest.startswith("//") else rest
        if not rest:
            raise InputError(f"--storage: {url!r}: no file path (expected journal:///abs/path.log or journal:path.log)")
        path = Path(rest)
        if not path.is_absolute():
            path = base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in ("postgresql", "postgres", "sqlite", "mysql"):
        raise InputError(f"--storage: {url!r}: expected postgresql://…, sqlite:///path, mysql://… or journal:path")
    given = url
    head = url.split("://", 1)[0].lower()
    if head in ("postgres", "postgresql"):  # no driver named: psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)
        url = "postgresql+psycopg2" + url[len(head):]
    import sqlalchemy.exc

    try:
        for attempt in range(_SCHEMA_ATTEMPTS):
            try:
                return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers starting together on an empty database race to create Optuna's tables;
                # the loser finds them on the next attempt.
                if attempt + 1 == _SCHEMA_ATTEMPTS:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
    except ImportError as e:
        raise InputError(f"--storage: {redact(given)}: its database driver is not installed ({e})") from None
    except sqlalchemy.exc.OperationalError as e:
        first = str(e.orig if e.orig is not None else e).strip().splitlines()[0]
        raise TransientError(f"--storage: cannot reach {redact(given)}: {first}") from None


def journal_logs(data: bytes) -> Iterable[dict[str, Any]]:
    """The operations of a journal file (for tools and tests)."""
    return BytesJournalBackend(data).read_logs(0)
