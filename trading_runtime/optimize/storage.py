"""Where a study's Optuna storage lives.

Generation mode keeps the storage **in the artifact store**, so pods share nothing but the store.
A coordinator step opens it with :func:`stored_storage`: read (marker-verified), act, write what
it added. Only the coordinator steps (init, ask, tell, finalize, verify) do this, one at a time.

**Journal** (default): an ordinary Optuna journal, kept in the store as objects that are each
written once, complete-or-absent (``write_complete``), and never rewritten with other bytes:

```
storage/journal.log                   the base: the study's creation (init)
storage/journal/g<gggg>.asked.log     generation g's ask: its operations since the last told object
storage/journal/g<gggg>.told.log      generation g told: the folded trials of generations
                                      g+1-lowbit(g+1) … g (one line per trial, compact_journal)
```

The journal is the base, then the told objects that tile the told generations (a binary counter:
after T told generations, one object per set bit of T, largest first, found from T alone), then
the first untold generation's asked object if there is one. T is found by a binary search on the
told objects' markers (a told object exists exactly when its generation is told); readers never
list. A step thus writes one object of its own (ask: the asked operations; tell: a told object)
instead of rewriting the whole journal, and a reader reads O(log T) objects. A kill at any write
leaves the previous state readable: every object is new, and its marker (last) makes it count.

The journal is kept in memory while a step runs (no file locks, no fsync per operation). Within
one process the opened storage is reused by the next step while the objects at its frontier (the
last told object, the next told and asked objects) are the ones it knows (what the local
all-in-one does between generations); anything else is read again.

**SQLite**: one file, read and rewritten whole by each step (``write_complete``).

The storage holds Optuna's own wall-clock times (``datetime_start``/``datetime_complete``): they
never reach a result document. Async mode opens a shared storage by URL (:func:`open_url_storage`).
"""

from __future__ import annotations

import contextlib
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
from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalFileOpenLock

from trading_runtime.errors import InputError, TransientError
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

__all__ = [
    "BytesJournalBackend", "StorageFormat", "StorageLocation", "forget_cached_storages", "open_url_storage",
    "stored_journal", "stored_storage",
]

log = logging.getLogger(__name__)

StorageFormat = Literal["journal", "sqlite"]
Step = Literal["asked", "asked-in-memory", "told"]


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


class BytesJournalBackend(BaseJournalBackend):
    """An Optuna journal held in memory as the lines of a journal file."""

    def __init__(self, data: bytes = b"") -> None:
        self._lines: list[bytes] = []
        self.extend(data)
        self.changed = False

    def extend(self, data: bytes) -> None:
        """Append the lines of a journal object (whole lines only)."""
        lines = data.splitlines(keepends=True)
        if lines and not lines[-1].endswith(b"\n"):
            raise ValueError("journal: the last line is incomplete")
        self._lines.extend(lines)

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        for line in self._lines[log_number_from:]:
            yield json.loads(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        # The exact line format of JournalFileBackend.append_logs.
        self._lines.extend((json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8") for entry in logs)
        self.changed = True

    def dump(self, start: int = 0) -> bytes:
        """The journal file's bytes from line ``start`` on."""
        return b"".join(self._lines[start:])

    def count_trials(self) -> int:
        """The number of trial creations in the journal."""
        return sum(1 for line in self._lines if line.startswith(_CREATE_PREFIX))

    def compact(self, first_trial_id: int) -> bool:
        folded = compact_journal(self._lines, first_trial_id)
        if folded is None:
            return False
        self._lines = folded
        self.changed = True
        return True

    def __len__(self) -> int:
        return len(self._lines)


# Journal operation codes (optuna.storages.journal._storage.JournalOperation).
_STUDY_OPS = (0, 2, 3)  # create study, set study user attr, set study system attr
_CREATE_TRIAL, _SET_PARAM, _SET_STATE, _SET_INTERMEDIATE, _SET_USER_ATTR, _SET_SYSTEM_ATTR = 4, 5, 6, 7, 8, 9
_CREATE_PREFIX = b'{"op_code":4,'
_FINISHED_STATES = (1, 2, 3)  # COMPLETE, PRUNED, FAIL


def compact_journal(lines: list[bytes], first_trial_id: int) -> list[bytes] | None:
    """The journal with every operation from the creation of trial ``first_trial_id`` on folded into one
    create-trial operation per trial (params, state, values, attributes, times: what Optuna's replay of the
    original operations yields), study operations kept before them. None when it cannot (a trial still
    running, an operation on an earlier trial, an unknown operation): the journal is then kept as it is.

    A told generation thus costs one journal line per trial instead of one per parameter, attribute and
    state change, which makes the next step's replay several times faster.
    """
    creates = 0
    boundary = None
    for i, line in enumerate(lines):
        if line.startswith(_CREATE_PREFIX):
            if creates == first_trial_id:
                boundary = i
                break
            creates += 1
    if boundary is None:
        return None
    study_lines: list[bytes] = []
    trials: dict[int, dict[str, Any]] = {}
    next_id = first_trial_id
    for line in lines[boundary:]:
        op = json.loads(line)
        code = op.get("op_code")
        if code in _STUDY_OPS:
            study_lines.append(line)
            continue
        if code == _CREATE_TRIAL:
            created = dict(op)
            for key in ("params", "distributions", "user_attrs", "system_attrs", "intermediate_values"):
                created[key] = dict(created.get(key) or {})
            trials[next_id] = created
            next_id += 1
            continue
        target = trials.get(int(op.get("trial_id", -1)))
        if target is None:
            return None
        t = target
        if t.get("state") in _FINISHED_STATES:
            continue  # Optuna's replay ignores changes to a finished trial
        if code == _SET_PARAM:
            t["params"][op["param_name"]] = op["param_value_internal"]
            t["distributions"][op["param_name"]] = op["distribution"]
        elif code == _SET_STATE:
            t["state"] = op["state"]
            if op.get("values") is not None:
                t["values"] = op["values"]
            for key in ("datetime_start", "datetime_complete"):
                if key in op:
                    t[key] = op[key]
        elif code == _SET_INTERMEDIATE:
            t["intermediate_values"][str(op["step"])] = op["intermediate_value"]
        elif code == _SET_USER_ATTR:
            t["user_attrs"].update(op["user_attr"])
        elif code == _SET_SYSTEM_ATTR:
            t["system_attrs"].update(op["system_attr"])
        else:
            return None
    if any(t.get("state") not in _FINISHED_STATES for t in trials.values()):
        return None
    folded = [(json.dumps(trials[i], separators=(",", ":")) + "\n").encode("utf-8") for i in sorted(trials)]
    return lines[:boundary] + study_lines + folded


def _lowbit(n: int) -> int:
    return n & -n


@dataclass
class _Open:
    """An opened journal: the storage, its lines, and where its generations' objects start and end."""

    storage: JournalStorage
    backend: BytesJournalBackend
    g0: int  # first generation kept in objects (0; more when the base holds told generations)
    told: int  # generations told in objects after the base (T)
    starts: dict[int, int]  # line where generation g0+r starts, for each block boundary r (0 … T)
    shas: dict[str, str]  # sha256 of the objects this journal holds, by key (the base, told and asked objects)
    asked: bool = False  # the asked object of generation g0+T is held (its lines end the journal)
    pending: bool = False  # generation g0+T was asked in memory only (its lines end the journal; not stored)

    def frontier(self, loc: StorageLocation) -> dict[str, str | None]:
        """The objects whose markers must be as known for this journal to be the stored one (None: absent)."""
        g = self.g0 + self.told
        last = loc.segment("told", g - 1) if self.told else loc.key
        out: dict[str, str | None] = {last: self.shas[last]}
        if g < loc.n_generations:
            out[loc.segment("told", g)] = None
            asked = loc.segment("asked", g)
            out[asked] = self.shas[asked] if self.asked else None
        return out


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


def _read(store: ArtifactStore, key: str) -> bytes:
    try:
        return read_complete(store, key)
    except CorruptArtifactError as e:
        raise CorruptArtifactError(e.uri, e.key, f"{e.problem} (the study's storage)") from None


@contextlib.contextmanager
def stored_storage(store: ArtifactStore, loc: StorageLocation, *, create: bool = False, write: bool = True,
                   step: Step | None = None) -> Iterator[BaseStorage]:
    """The study storage at ``loc``; what the step added is written on a clean exit (when ``write``).

    ``step``: what a journal step writes: ``"asked"`` (the asked object of the first untold
    generation) or ``"told"`` (its told object, the generation's operations folded); neither:
    only the base, when created. ``"asked-in-memory"`` writes nothing: the asked trials stay in
    this process's open storage for the tell that follows in the same process (the local
    all-in-one: a kill in between loses nothing that re-asking does not give back identically,
    since what a generation asks depends only on the seed, the generation and the told trials).
    Only a ``"told"`` step reuses such a storage; any other step reads the store again.
    """
    if loc.storage_format == "journal":
        with _journal(store, loc, create, write, step) as storage:
            yield storage
    else:
        with _sqlite(store, loc.key, create, write) as storage:
            yield storage


def stored_journal(store: ArtifactStore, loc: StorageLocation) -> bytes:
    """The stored journal as one Optuna journal file (the base, then its generations' objects)."""
    opened = _load(store, loc)
    if opened is None:
        raise ArtifactMissingError(store.uri, loc.key)
    return opened.backend.dump()


def _load(store: ArtifactStore, loc: StorageLocation) -> _Open | None:
    """The stored journal read from its objects (None: no base)."""
    if _stored_sha256(store, loc.key) is None:
        return None
    data = _read(store, loc.key)
    backend = BytesJournalBackend(data)
    shas = {loc.key: hashlib.sha256(data).hexdigest()}
    in_base = backend.count_trials()
    g0 = min(-(-in_base // loc.batch_size), loc.n_generations)
    # T: told objects exist for generations g0 … g0+T-1 and not after (tells go in order).
    lo, hi = 0, loc.n_generations - g0
    while lo < hi:
        mid = (lo + hi) // 2
        if _stored_sha256(store, loc.segment("told", g0 + mid)) is not None:
            lo = mid + 1
        else:
            hi = mid
    starts = {0: len(backend)}
    done = 0
    for bit in reversed(range(lo.bit_length())):
        if lo >> bit & 1:
            done += 1 << bit
            key = loc.segment("told", g0 + done - 1)
            data = _read(store, key)
            backend.extend(data)
            shas[key] = hashlib.sha256(data).hexdigest()
            starts[done] = len(backend)
    opened = _Open(JournalStorage(backend), backend, g0, lo, starts, shas)
    if g0 + lo < loc.n_generations:
        key = loc.segment("asked", g0 + lo)
        if _stored_sha256(store, key) is not None:
            data = _read(store, key)
            backend.extend(data)
            shas[key] = hashlib.sha256(data).hexdigest()
            opened.asked = True
    backend.changed = False
    if in_base:
        _refuse_untold_base(store, loc, opened, in_base)
    return opened


def _refuse_untold_base(store: ArtifactStore, loc: StorageLocation, opened: _Open, in_base: int) -> None:
    """A base holding trials (a journal written whole by an earlier version) must hold told generations only."""
    sid = opened.storage.get_all_studies()
    trials = opened.storage.get_all_trials(sid[0]._study_id, deepcopy=False) if sid else []
    if any(not t.state.is_finished() for t in trials[:in_base]):
        raise InputError(f"{store.uri}: {loc.key}: the journal (written whole by an earlier version) holds a "
                         "generation asked but not told: tell it with that version, or remove the study")


def _valid(store: ArtifactStore, loc: StorageLocation, opened: _Open) -> bool:
    return all(_stored_sha256(store, key) == sha for key, sha in opened.frontier(loc).items())


@contextlib.contextmanager
def _journal(store: ArtifactStore, loc: StorageLocation, create: bool, write: bool,
             step: Step | None) -> Iterator[BaseStorage]:
    cache_key = (store.uri, loc.key)
    cached = _CACHE.pop(cache_key, None)
    if cached is not None and cached.pending and step != "told":
        cached = None  # asked in memory only: the stored study does not hold those trials
    opened = cached if cached is not None and _valid(store, loc, cached) else _load(store, loc)
    if opened is None:
        if not create:
            raise ArtifactMissingError(store.uri, loc.key)
        backend = BytesJournalBackend()
        opened = _Open(JournalStorage(backend), backend, 0, 0, {}, {})
    opened.backend.changed = False
    yield opened.storage
    # Reached only on a clean exit: on an exception the half-changed storage is dropped.
    if not write:
        if not opened.backend.changed:
            _CACHE[cache_key] = opened
        return
    if loc.key not in opened.shas:  # a new study: the base
        _put(store, opened, loc.key, opened.backend.dump())
        opened.starts = {0: len(opened.backend)}
    elif step == "asked" and opened.backend.changed:
        key = loc.segment("asked", opened.g0 + opened.told)
        _put(store, opened, key, opened.backend.dump(opened.starts[opened.told]))
        opened.asked = True
    elif step == "asked-in-memory" and opened.backend.changed:
        opened.pending = True
    elif step == "told" and (opened.asked or opened.pending or opened.backend.changed):
        if not _tell(store, loc, opened):
            return
    elif opened.backend.changed:
        raise AssertionError(f"study storage {loc.key}: a {step or 'read'} step changed the journal")
    opened.backend.changed = False
    _CACHE[cache_key] = opened


def _tell(store: ArtifactStore, loc: StorageLocation, opened: _Open) -> bool:
    """Write the told object of generation g0+T (its operations folded, after the generations its object
    tiles: g0+T+1-lowbit(T+1) …); whether the open storage may be reused."""
    r = opened.told
    g = opened.g0 + r
    backend = opened.backend
    reusable = True
    if backend.compact(g * loc.batch_size):
        replay = getattr(opened.storage, "_replay_result", None)
        if replay is None or not hasattr(replay, "log_number_read"):
            reusable = False  # cannot tell the open storage its journal was folded: write, but do not reuse it
        else:
            replay.log_number_read = len(backend)  # same state, fewer lines
    _put(store, opened, loc.segment("told", g), backend.dump(opened.starts[r + 1 - _lowbit(r + 1)]))
    opened.told = r + 1
    opened.starts[r + 1] = len(backend)
    opened.asked = opened.pending = False
    return reusable


def _put(store: ArtifactStore, opened: _Open, key: str, payload: bytes) -> None:
    write_complete(store, key, payload)
    opened.shas[key] = hashlib.sha256(payload).hexdigest()


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
